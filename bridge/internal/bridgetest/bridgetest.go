// Package bridgetest holds what the tests of the bridge share: the strict fake VictoriaLogs set
// for the bridge, the
// CloudWatch Logs subscription event, the on-failure destination record and the SQS event in
// their real formats, and generators of maximum-size subscription messages.
package bridgetest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.vlog.dev/handlers/victorialogs"
	"go.vlog.dev/internal/vtest"
)

// EncodeEvent returns the Lambda payload CloudWatch Logs sends for the subscription message
// js (any JSON layout: it is compacted, as CloudWatch Logs writes it): {"awslogs":{"data":
// "<base64 of the gzip of js>"}}. The gzip is compress/gzip's, independent of the decoder's.
func EncodeEvent(t testing.TB, js []byte) []byte {
	t.Helper()
	var compact bytes.Buffer
	if err := json.Compact(&compact, js); err != nil {
		t.Fatalf("fixture is not JSON: %v", err)
	}
	return EncodeRaw(t, compact.Bytes())
}

// EncodeRaw is EncodeEvent for bytes taken as they are (for invalid UTF-8 and broken JSON).
func EncodeRaw(t testing.TB, data []byte) []byte {
	t.Helper()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	ev, _ := json.Marshal(map[string]map[string]string{"awslogs": {"data": base64.StdEncoding.EncodeToString(gz.Bytes())}})
	return ev
}

// DestinationRecord is what Lambda sends to the on-failure destination after the retries of
// the asynchronous invocation with payload event.
func DestinationRecord(event []byte) []byte {
	return []byte(`{"version":"1.0","timestamp":"2026-12-02T04:40:00.000Z","requestContext":{"requestId":"e4b46cbf-b738-4a8e-8880-a18cdf61200e","functionArn":"arn:aws:lambda:eu-west-1:123456789012:function:vlog-bridge:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3},"requestPayload":` +
		string(event) + `,"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"responsePayload":{"errorMessage":"bridge: 14 of 14 records not delivered","errorType":"DeliveryError"}}`)
}

// SQSEvent is the event an SQS event source mapping invokes the function with, one record per
// body (message ids m1, m2, ...).
func SQSEvent(bodies ...[]byte) []byte {
	var recs []string
	for i, b := range bodies {
		body, _ := json.Marshal(string(b))
		recs = append(recs, fmt.Sprintf(`{"messageId":"m%d","receiptHandle":"AQEB...%d","body":%s,"attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"1796186400000","SenderId":"AROAEXAMPLE:awslambda_1","ApproximateFirstReceiveTimestamp":"1796186400001"},"messageAttributes":{},"md5OfBody":"x","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:eu-west-1:123456789012:vlog-bridge-failures","awsRegion":"eu-west-1"}`, i+1, i+1, body))
	}
	return []byte(`{"Records":[` + strings.Join(recs, ",") + `]}`)
}

// NewVictoriaLogs starts the strict fake VictoriaLogs of vlog's tests (go.vlog.dev/internal/vtest)
// set to expect what the bridge sends: the given stream fields, lines of at most maxLine bytes
// without their newline, and the required string fields in every record besides event_time and
// msg. It fails the test on any request VictoriaLogs would treat differently from what the
// bridge intends (wrong method, path, content type: VictoriaLogs v1.26 reads a form-encoded
// body as form values and stores nothing; encoding, parameters, tenant, auth) and on any line
// that is not one JSON object in valid UTF-8 with those fields. It is closed at the end of the
// test.
func NewVictoriaLogs(t testing.TB, stream string, maxLine int, required ...string) *vtest.VictoriaLogs {
	f := vtest.NewVictoriaLogs(t)
	f.WantStream, f.MaxLine, f.Required = stream, maxLine+1, required
	f.WantEncoding = victorialogs.DefaultCompression
	return f
}

// NewVictoriaLogsTLS is NewVictoriaLogs over https, with a certificate of its own: caFile
// names a PEM file of it, for VLOG_VICTORIALOGS_CA_FILE.
func NewVictoriaLogsTLS(t testing.TB, stream string, maxLine int, required ...string) (f *vtest.VictoriaLogs, caFile string) {
	f = NewVictoriaLogs(t, stream, maxLine, required...)
	srv := httptest.NewTLSServer(f) // f's own plain server stays up, unused: f.URL names this one
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return f, caFile
}

// PutLogEvents' limits, which bound what one subscription message holds: 1,048,576 bytes of
// messages, each counted with 26 bytes of overhead, and 10,000 events.
const (
	CWBatchBytes    = 1 << 20
	CWEventOverhead = 26
	CWMaxEvents     = 10000
)

// VlogRecord is the n-th record of a service logging through vlog at about the given time.
func VlogRecord(n int, at time.Time, tag string) string {
	routes := []string{"/orders", "/orders/{id}", "/healthz", "/payments/{id}/capture"}
	rec := fmt.Sprintf(`{"event_time":"%s","level":"info","msg":"request","service":"order-api","env":"prod","version":"1.4.2","request_id":"%s%024x","trace_id":"%032x","ecs_cluster":"prod","ecs_task_arn":"arn:aws:ecs:eu-west-1:123456789012:task/prod/5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b","container":"order-api","method":"GET","route":"%s","status":200,"bytes":%d,"duration_ms":%d.%03d,"tag":"%s"}`,
		at.UTC().Format("2006-01-02T15:04:05.000000000Z"), "req-", n, n*7919, routes[n%len(routes)], 100+n%5000, n%97, n%1000, tag)
	return rec
}

// DataMessage returns a DATA_MESSAGE of the given messages, logged from base on, one
// millisecond apart, with event ids from idBase.
func DataMessage(t testing.TB, messages []string, base time.Time, idBase int) []byte {
	t.Helper()
	type ev struct {
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	}
	evs := make([]ev, len(messages))
	for i, m := range messages {
		evs[i] = ev{ID: fmt.Sprintf("3829174023478010293847561029384756102938475%013d", idBase+i), Timestamp: base.Add(time.Duration(i) * time.Millisecond).UnixMilli(), Message: m}
	}
	js, err := json.Marshal(map[string]any{
		"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/ecs/order-api",
		"logStream": "ecs/order-api/5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b", "subscriptionFilters": []string{"vlog-bridge"}, "logEvents": evs,
	})
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// Records returns a DATA_MESSAGE of n vlog records.
func Records(t testing.TB, n int, baseMillis int64) []byte {
	base := time.UnixMilli(baseMillis)
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = VlogRecord(i, base.Add(time.Duration(i)*time.Millisecond), "max")
	}
	return DataMessage(t, msgs, base, 0)
}

// MaxSizeMessage returns the largest DATA_MESSAGE CloudWatch Logs makes of vlog's records: as
// many as fit PutLogEvents' 1 MiB, and their count.
func MaxSizeMessage(t testing.TB, base time.Time, tag string, idBase int) ([]byte, int) {
	var msgs []string
	size := 0
	for i := 0; len(msgs) < CWMaxEvents; i++ {
		m := VlogRecord(idBase+i, base.Add(time.Duration(i)*time.Millisecond), tag)
		if size+len(m)+CWEventOverhead > CWBatchBytes {
			break
		}
		size += len(m) + CWEventOverhead
		msgs = append(msgs, m)
	}
	return DataMessage(t, msgs, base, idBase), len(msgs)
}
