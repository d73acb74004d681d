package bridge

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/cloudwatch"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/awslabs/goformation/v7/schema"
	"github.com/xeipuuv/gojsonschema"
)

// The deployment templates are checked with goformation, a CloudFormation library: every
// resource is parsed into its typed Go struct (an unknown resource type or a misspelt
// property is an error), under the default parameters and under a VPC, auth and alarm-topic
// set, with the conditions evaluated. References are kept as markers ("ref:Name",
// "getatt:Name.Attr", "sub:<template>", "import:<name>") instead of being resolved, so that
// the wiring can be checked: least privilege, the permission scoped to the source log group,
// the failure queue and its replay, the alarms.

const (
	templatePath     = "../examples/bridge/template.yaml"
	subscriptionPath = "../examples/bridge/subscription.yaml"
)

// parseTemplate parses a template with goformation, references kept as markers. Every Ref
// must name a parameter, a resource or a pseudo parameter.
func parseTemplate(t *testing.T, path string, params map[string]any) *cloudformation.Template {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var unknownRefs []string
	ref := func(_ string, input any, tpl any) any {
		name, _ := input.(string)
		root, _ := tpl.(map[string]any)
		if ps, ok := root["Parameters"].(map[string]any); ok {
			if p, ok := ps[name].(map[string]any); ok {
				v, ok := params[name]
				if !ok {
					v = p["Default"]
				}
				if p["Type"] == "CommaDelimitedList" {
					var l []any
					for _, s := range strings.Split(fmt.Sprint(v), ",") {
						l = append(l, s)
					}
					return l
				}
				return v
			}
		}
		if rs, ok := root["Resources"].(map[string]any); ok {
			if _, ok := rs[name]; ok {
				return "ref:" + name
			}
		}
		switch name {
		case "AWS::NoValue":
			return nil
		case "AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::StackName", "AWS::URLSuffix":
			return "ref:" + name
		}
		unknownRefs = append(unknownRefs, name)
		return nil
	}
	opts := &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref": ref,
			"Fn::GetAtt": func(_ string, input any, _ any) any {
				switch v := input.(type) {
				case string:
					return "getatt:" + v
				case []any:
					return fmt.Sprintf("getatt:%v.%v", v[0], v[1])
				}
				return nil
			},
			"Fn::Sub": func(_ string, input any, _ any) any {
				if s, ok := input.(string); ok {
					return "sub:" + s
				}
				return nil
			},
			"Fn::ImportValue": func(_ string, input any, _ any) any {
				if l, ok := input.([]any); ok && len(l) == 2 && l[0] == "Fn::Sub" {
					return fmt.Sprintf("import:sub:%v", l[1]) // the short form's nested long form
				}
				return fmt.Sprintf("import:%v", input)
			},
		},
		ParameterOverrides: params,
		EvaluateConditions: true,
	}
	tpl, err := goformation.ParseYAMLWithOptions(data, opts)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(unknownRefs) > 0 {
		t.Errorf("%s: Ref to unknown names %v", path, unknownRefs)
	}
	return tpl
}

// The parameter sets the template is checked under.
var templateParams = map[string]map[string]any{
	"defaults": {"SourceLogGroupName": "/ecs/order-api", "VictoriaLogsURL": "https://vl.internal:9428"},
	"vpc+auth+alarms": {"SourceLogGroupName": "/ecs/order-api", "VictoriaLogsURL": "https://vl.internal:9428",
		"SubnetIds": "subnet-1,subnet-2", "SecurityGroupIds": "sg-1", "VictoriaLogsUser": "bridge", "VictoriaLogsPassword": "s3cr3t",
		"StreamFields": "log_group,service", "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:oncall", "ReservedConcurrency": 5},
}

func TestTemplate(t *testing.T) {
	for name, params := range templateParams {
		t.Run(name, func(t *testing.T) { checkTemplate(t, params) })
	}
}

func checkTemplate(t *testing.T, params map[string]any) {
	tpl := parseTemplate(t, templatePath, params)
	inVPC := params["SubnetIds"] != nil
	resources := map[string]string{}
	for n, r := range tpl.Resources {
		resources[n] = r.AWSCloudFormationType()
	}
	wantTypes := map[string]string{
		"FunctionLogGroup": "AWS::Logs::LogGroup", "FailureQueue": "AWS::SQS::Queue", "ParkingQueue": "AWS::SQS::Queue",
		"FunctionRole": "AWS::IAM::Role", "Function": "AWS::Serverless::Function", "FunctionEventInvokeConfig": "AWS::Lambda::EventInvokeConfig",
		"ReplayEventSource": "AWS::Lambda::EventSourceMapping", "InvokePermission": "AWS::Lambda::Permission",
		"SubscriptionFilter": "AWS::Logs::SubscriptionFilter",
	}
	for n, typ := range wantTypes {
		if resources[n] != typ {
			t.Errorf("resource %s: %q, want %s", n, resources[n], typ)
		}
	}
	// Every marker points at a resource of the template (or a pseudo parameter).
	checkMarkers(t, tpl)

	// The function: the custom runtime, the bootstrap, its role, its settings.
	fn, err := tpl.GetServerlessFunctionWithName("Function")
	if err != nil {
		t.Fatal(err)
	}
	if deref(fn.Runtime) != "provided.al2023" || deref(fn.Handler) != "bootstrap" || !slices.Equal(fn.Architectures, []string{"arm64"}) {
		t.Errorf("function runtime %q, handler %q, architectures %v", deref(fn.Runtime), deref(fn.Handler), fn.Architectures)
	}
	if fn.CodeUri == nil || fn.CodeUri.String == nil || *fn.CodeUri.String != "../../bridge/dist/lambda" {
		t.Errorf("CodeUri %+v: want the build directory of the bootstrap", fn.CodeUri)
	}
	if deref(fn.MemorySize) != 128 || deref(fn.Timeout) != 60 {
		t.Errorf("memory %d, timeout %d", deref(fn.MemorySize), deref(fn.Timeout))
	}
	if deref(fn.Role) != "getatt:FunctionRole.Arn" {
		t.Errorf("role %q", deref(fn.Role))
	}
	if deref(fn.FunctionName) != "sub:${AWS::StackName}-bridge" {
		t.Errorf("function name %q: the log group's name assumes it", deref(fn.FunctionName))
	}
	lg, _ := tpl.GetLogsLogGroupWithName("FunctionLogGroup")
	if deref(lg.LogGroupName) != "sub:/aws/lambda/${AWS::StackName}-bridge" || deref(lg.RetentionInDays) != 30 {
		t.Errorf("function log group %q, retention %d", deref(lg.LogGroupName), deref(lg.RetentionInDays))
	}
	if !slices.Contains(fn.AWSCloudFormationDependsOn, "FunctionLogGroup") {
		t.Errorf("the function does not depend on its log group")
	}
	if inVPC != (fn.VpcConfig != nil) {
		t.Errorf("VpcConfig %+v in VPC=%v", fn.VpcConfig, inVPC)
	}
	if inVPC && (!slices.Equal(fn.VpcConfig.SubnetIds, []string{"subnet-1", "subnet-2"}) || !slices.Equal(fn.VpcConfig.SecurityGroupIds, []string{"sg-1"})) {
		t.Errorf("VpcConfig %+v", fn.VpcConfig)
	}
	if params["ReservedConcurrency"] != nil && deref(fn.ReservedConcurrentExecutions) != 5 {
		t.Errorf("reserved concurrency %v", fn.ReservedConcurrentExecutions)
	}
	// The environment: only variables the bridge knows (VictoriaLogs' URL always).
	env := map[string]string{}
	if fn.Environment != nil {
		for k, v := range fn.Environment.Variables {
			if v != "" {
				env[k] = v
			}
		}
	}
	for k := range env {
		if !slices.Contains(KnownVariables(), k) {
			t.Errorf("environment variable %s is not a setting of the bridge", k)
		}
	}
	wantEnv := map[string]string{"VICTORIALOGS_URL": "https://vl.internal:9428"}
	if params["VictoriaLogsUser"] != nil {
		wantEnv["VLOG_VICTORIALOGS_USER"] = "bridge"
		wantEnv["VLOG_VICTORIALOGS_PASSWORD"] = "s3cr3t"
		wantEnv["VLOG_VICTORIALOGS_STREAM_FIELDS"] = "log_group,service"
	}
	if fmt.Sprint(env) != fmt.Sprint(wantEnv) {
		t.Errorf("environment %v, want %v", env, wantEnv)
	}
	o, err := OptionsFromEnv(envList(env))
	if err == nil {
		_, err = New(o)
	}
	if err != nil {
		t.Errorf("the template's environment does not configure a bridge: %v", err)
	}

	// Least privilege: its own log group, its own queue, and the ENI actions in a VPC only.
	role, _ := tpl.GetIAMRoleWithName("FunctionRole")
	if s := fmt.Sprint(role.AssumeRolePolicyDocument); !strings.Contains(s, "lambda.amazonaws.com") || !strings.Contains(s, "aws:SourceAccount") {
		t.Errorf("assume role policy %s", s)
	}
	if len(role.ManagedPolicyArns) > 0 {
		t.Errorf("managed policies %v: grant what is needed inline", role.ManagedPolicyArns)
	}
	grants := map[string]string{} // action -> resource
	names := []string{}
	for _, p := range role.Policies {
		if p.PolicyName == "" {
			continue // an !If that resolved to AWS::NoValue
		}
		names = append(names, p.PolicyName)
		doc, _ := p.PolicyDocument.(map[string]any)
		for _, st := range doc["Statement"].([]any) {
			st := st.(map[string]any)
			if st["Effect"] != "Allow" {
				t.Errorf("policy %s: a statement that does not allow: %v", p.PolicyName, st)
			}
			for _, a := range list(st["Action"]) {
				if strings.Contains(a, "*") {
					t.Errorf("policy %s: a wildcard action %s", p.PolicyName, a)
				}
				for _, r := range list(st["Resource"]) {
					grants[a] = r
				}
			}
		}
	}
	wantGrants := map[string]string{
		"logs:CreateLogStream": "getatt:FunctionLogGroup.Arn", "logs:PutLogEvents": "getatt:FunctionLogGroup.Arn",
		"sqs:SendMessage": "getatt:FailureQueue.Arn", "sqs:ReceiveMessage": "getatt:FailureQueue.Arn", "sqs:DeleteMessage": "getatt:FailureQueue.Arn",
		"sqs:ChangeMessageVisibility": "getatt:FailureQueue.Arn", "sqs:GetQueueAttributes": "getatt:FailureQueue.Arn",
	}
	if inVPC {
		for _, a := range []string{"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"} {
			wantGrants[a] = "*"
		}
	}
	if fmt.Sprint(grants) != fmt.Sprint(wantGrants) {
		t.Errorf("the role grants\n %v\nwant\n %v", grants, wantGrants)
	}
	if inVPC != slices.Contains(names, "vpc-network-interfaces") {
		t.Errorf("policies %v in VPC=%v", names, inVPC)
	}

	// CloudWatch Logs may invoke it for the source log group only; the filter waits for that.
	perm, _ := tpl.GetLambdaPermissionWithName("InvokePermission")
	if perm.Action != "lambda:InvokeFunction" || perm.Principal != "logs.amazonaws.com" || perm.FunctionName != "getatt:Function.Arn" ||
		deref(perm.SourceArn) != "sub:arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${SourceLogGroupName}:*" ||
		deref(perm.SourceAccount) != "ref:AWS::AccountId" {
		t.Errorf("permission %+v", perm)
	}
	sf, _ := tpl.GetLogsSubscriptionFilterWithName("SubscriptionFilter")
	if sf.LogGroupName != "/ecs/order-api" || sf.DestinationArn != "getatt:Function.Arn" || sf.FilterPattern != "" ||
		!slices.Contains(sf.AWSCloudFormationDependsOn, "InvokePermission") {
		t.Errorf("subscription filter %+v", sf)
	}

	// Failure and replay: retries, then the failure queue; the function replays it, reporting
	// failed messages; what fails too often is parked.
	eic, _ := tpl.GetLambdaEventInvokeConfigWithName("FunctionEventInvokeConfig")
	if eic.FunctionName != "ref:Function" || eic.Qualifier != "$LATEST" || deref(eic.MaximumRetryAttempts) != 2 || deref(eic.MaximumEventAgeInSeconds) != 21600 ||
		eic.DestinationConfig == nil || eic.DestinationConfig.OnFailure == nil || eic.DestinationConfig.OnFailure.Destination != "getatt:FailureQueue.Arn" {
		t.Errorf("event invoke config %+v", eic)
	}
	esm, _ := tpl.GetLambdaEventSourceMappingWithName("ReplayEventSource")
	if deref(esm.EventSourceArn) != "getatt:FailureQueue.Arn" || esm.FunctionName != "ref:Function" ||
		!slices.Equal(esm.FunctionResponseTypes, []string{"ReportBatchItemFailures"}) || esm.Enabled == nil || !*esm.Enabled {
		t.Errorf("replay event source %+v", esm)
	}
	fq, _ := tpl.GetSQSQueueWithName("FailureQueue")
	rp, _ := fq.RedrivePolicy.(map[string]any)
	if rp["deadLetterTargetArn"] != "getatt:ParkingQueue.Arn" || fmt.Sprint(rp["maxReceiveCount"]) != "5" {
		t.Errorf("failure queue redrive %v", fq.RedrivePolicy)
	}
	if deref(fq.VisibilityTimeout) < 900 || deref(fq.MessageRetentionPeriod) != 1209600 {
		t.Errorf("failure queue visibility %d (must be at least the function's longest timeout), retention %d", deref(fq.VisibilityTimeout), deref(fq.MessageRetentionPeriod))
	}

	// The alarms: errors, throttles, duration near the timeout, queue depth, lost events,
	// malformed input; each notifies the topic when one is given.
	alarms := map[string]bool{}
	for n, a := range tpl.GetAllCloudWatchAlarmResources() {
		for _, m := range alarmMetrics(a) {
			alarms[m] = true
		}
		if topic := params["AlarmTopicArn"]; topic != nil {
			if !slices.Equal(a.AlarmActions, []string{topic.(string)}) || !slices.Equal(a.OKActions, []string{topic.(string)}) {
				t.Errorf("alarm %s: actions %v, %v", n, a.AlarmActions, a.OKActions)
			}
		} else if len(a.AlarmActions) > 0 {
			t.Errorf("alarm %s: actions %v without a topic", n, a.AlarmActions)
		}
		if deref(a.TreatMissingData) != "notBreaching" {
			t.Errorf("alarm %s: TreatMissingData %q", n, deref(a.TreatMissingData))
		}
	}
	for _, want := range []string{
		"AWS/Lambda Errors ref:Function", "AWS/Lambda Throttles ref:Function", "AWS/Lambda Duration ref:Function",
		"AWS/Lambda DestinationDeliveryFailures ref:Function", "AWS/Lambda AsyncEventsDropped ref:Function",
		"AWS/SQS ApproximateNumberOfMessagesVisible getatt:FailureQueue.QueueName", "AWS/SQS ApproximateNumberOfMessagesVisible getatt:ParkingQueue.QueueName",
		"vlog/bridge MalformedMessages ref:Function", "vlog/bridge MalformedEvents ref:Function",
	} {
		if !alarms[want] {
			t.Errorf("no alarm on %s (alarms: %v)", want, keys(alarms))
		}
	}
	dur, _ := tpl.GetCloudWatchAlarmWithName("DurationAlarm")
	if len(dur.Metrics) != 2 || deref(dur.Metrics[1].Expression) != "sub:100 * duration / (${Timeout} * 1000)" || deref(dur.Threshold) != 80 {
		t.Errorf("duration alarm %+v", dur.Metrics)
	}
	// The malformed-input alarm reads metrics the summary line publishes.
	if !slices.Contains(metricNames, "MalformedMessages") || !slices.Contains(metricNames, "MalformedEvents") || DefaultMetricsNamespace != "vlog/bridge" {
		t.Errorf("the summary line does not publish what MalformedInputAlarm reads")
	}
}

// TestTemplateSchema validates the resources, as goformation parsed them, against
// goformation's SAM/CloudFormation JSON schema: required properties, types, enumerations.
func TestTemplateSchema(t *testing.T) {
	for _, c := range []struct {
		path   string
		params map[string]any
	}{
		{templatePath, templateParams["defaults"]},
		{templatePath, templateParams["vpc+auth+alarms"]},
		{subscriptionPath, map[string]any{"SourceLogGroupName": "/ecs/payments"}},
	} {
		tpl := parseTemplate(t, c.path, c.params)
		js, err := tpl.JSON()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(js, &m); err != nil {
			t.Fatal(err)
		}
		// An !If that chose AWS::NoValue in a list leaves an empty element in goformation's
		// model (CloudFormation removes it): drop it.
		for _, r := range m["Resources"].(map[string]any) {
			props, _ := r.(map[string]any)["Properties"].(map[string]any)
			if ps, ok := props["Policies"].([]any); ok {
				kept := ps[:0]
				for _, p := range ps {
					if pm, ok := p.(map[string]any); ok && (pm["PolicyName"] == nil || pm["PolicyName"] == "") && pm["PolicyDocument"] == nil {
						continue
					}
					kept = append(kept, p)
				}
				props["Policies"] = kept
			}
		}
		top := map[string]any{"AWSTemplateFormatVersion": "2010-09-09", "Resources": m["Resources"]}
		sch := schema.CloudformationSchema
		if m["Transform"] != nil {
			top["Transform"], sch = m["Transform"], schema.SamSchema
		}
		doc, _ := json.Marshal(top)
		res, err := gojsonschema.Validate(gojsonschema.NewStringLoader(sch), gojsonschema.NewBytesLoader(doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Errors() {
			t.Errorf("%s %v: %s", c.path, c.params, e)
		}
	}
}

func TestSubscriptionTemplate(t *testing.T) {
	tpl := parseTemplate(t, subscriptionPath, map[string]any{"SourceLogGroupName": "/ecs/payments"})
	checkMarkers(t, tpl)
	perm, err := tpl.GetLambdaPermissionWithName("InvokePermission")
	if err != nil {
		t.Fatal(err)
	}
	if perm.Principal != "logs.amazonaws.com" || perm.FunctionName != "import:sub:${BridgeStackName}-FunctionArn" ||
		deref(perm.SourceArn) != "sub:arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${SourceLogGroupName}:*" {
		t.Errorf("permission %+v", perm)
	}
	sf, _ := tpl.GetLogsSubscriptionFilterWithName("SubscriptionFilter")
	if sf.LogGroupName != "/ecs/payments" || sf.DestinationArn != "import:sub:${BridgeStackName}-FunctionArn" || !slices.Contains(sf.AWSCloudFormationDependsOn, "InvokePermission") {
		t.Errorf("subscription filter %+v", sf)
	}
	// The export it imports is the main template's.
	main := parseTemplate(t, templatePath, templateParams["defaults"])
	if out, ok := main.Outputs["FunctionArn"]; !ok || out.Export == nil || fmt.Sprint(out.Export.Name) != "sub:${AWS::StackName}-FunctionArn" {
		t.Errorf("template.yaml does not export the function's ARN: %+v", main.Outputs["FunctionArn"])
	}
}

// checkMarkers fails on a getatt: or ref: marker that names no resource.
func checkMarkers(t *testing.T, tpl *cloudformation.Template) {
	t.Helper()
	js, err := tpl.JSON()
	if err != nil {
		t.Fatal(err)
	}
	s := string(js)
	for _, prefix := range []string{`"getatt:`, `"ref:`} {
		for rest := s; ; {
			i := strings.Index(rest, prefix)
			if i < 0 {
				break
			}
			rest = rest[i+len(prefix):]
			name := rest[:strings.IndexAny(rest, `."`)]
			if _, ok := tpl.Resources[name]; !ok && !strings.HasPrefix(name, "AWS::") {
				t.Errorf("a reference to %q, which is no resource", name)
			}
		}
	}
}

// alarmMetrics returns "namespace metric dimension-value" for each metric an alarm reads.
func alarmMetrics(a *cloudwatch.Alarm) []string {
	var out []string
	add := func(ns, name string, dims []cloudwatch.Alarm_Dimension) {
		d := ""
		if len(dims) > 0 {
			d = dims[0].Value
		}
		out = append(out, ns+" "+name+" "+d)
	}
	if a.MetricName != nil {
		add(deref(a.Namespace), *a.MetricName, a.Dimensions)
	}
	for _, m := range a.Metrics {
		if m.MetricStat != nil {
			add(deref(m.MetricStat.Metric.Namespace), deref(m.MetricStat.Metric.MetricName), m.MetricStat.Metric.Dimensions)
		}
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func list(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func envList(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
