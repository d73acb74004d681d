package redact

// card matches a payment card number starting at the word s[i:w]: 13 to 19 digits, either as one
// word or in groups separated by single spaces, dashes or '+' (a space in a form-encoded value)
// (a first group of 4 digits, middle
// groups of 4 to 6, a last group of 1 to 6: "4111 1111 1111 1111", "3782-822463-10005"), that
// pass the Luhn check and start with the prefix of a card network for their length. A number
// that is part of a longer run of letters, digits or underscores ("ord_4111111111111111"), of
// a dashed identifier, or of a decimal number is not a card. Without the network check every
// tenth 13-19 digit number would be masked: unix timestamps in ms or ns start with 1, which no
// network uses.
func (sc *scanner) card(i, w int) (match, bool) {
	s := sc.s
	for k := i; k < w; k++ {
		if !isDigit(s[k]) {
			return match{}, false
		}
	}
	if i >= 2 && (s[i-1] == '.' && isDigit(s[i-2]) || s[i-1] == '-' && isWord[s[i-2]]) {
		return match{}, false
	}
	n := w - i
	if n >= 13 && n <= 19 {
		if !cardEndOK(s, w) || !validCard(s[i:w]) {
			return match{}, false
		}
		return match{i, w, ruleCard}, true
	}
	if n != 4 || w+1 >= len(s) || s[w] != ' ' && s[w] != '-' && s[w] != '+' || !isDigit(s[w+1]) {
		return match{}, false
	}
	sep := s[w]
	var digits [19]byte
	total := copy(digits[:], s[i:w])
	pos := w
	best := -1
	midOK := true // groups after the first and before the current one are 4-6 digits long
	for pos+1 < len(s) && s[pos] == sep && isDigit(s[pos+1]) {
		ge := pos + 1
		for ge < len(s) && isDigit(s[ge]) {
			ge++
		}
		gl := ge - (pos + 1)
		if ge < len(s) && isWord[s[ge]] || gl > 6 || total+gl > 19 {
			break
		}
		total += copy(digits[total:], s[pos+1:ge])
		pos = ge
		if total >= 13 && midOK && cardEndOK(s, pos) && validCard(string(digits[:total])) {
			best = pos
		}
		midOK = midOK && gl >= 4
	}
	if best < 0 {
		return match{}, false
	}
	return match{i, best, ruleCard}, true
}

// cardEndOK reports whether a card number may end at e: not followed by a word byte, nor by
// '.' or '-' and a word byte (a decimal fraction, a dashed identifier).
func cardEndOK(s string, e int) bool {
	if e >= len(s) {
		return true
	}
	if isWord[s[e]] {
		return false
	}
	return !((s[e] == '.' || s[e] == '-') && e+1 < len(s) && isWord[s[e+1]])
}

// validCard reports whether the digits d (13 to 19 of them) start with the prefix of a card
// network that issues numbers of that length and pass the Luhn check.
func validCard(d string) bool {
	n := len(d)
	if n < 13 || n > 19 {
		return false
	}
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p4 := p2*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	ok := false
	switch d[0] {
	case '2': // Mastercard 2-series
		ok = n == 16 && p4 >= 2221 && p4 <= 2720
	case '3':
		switch p2 {
		case 34, 37: // American Express
			ok = n == 15
		case 35: // JCB
			ok = n >= 16 && p4 >= 3528 && p4 <= 3589
		case 30, 36, 38, 39: // Diners Club
			ok = n >= 14
		}
	case '4': // Visa
		ok = n == 13 || n == 16 || n == 19
	case '5':
		if p2 >= 51 && p2 <= 55 { // Mastercard
			ok = n == 16
		} else { // Maestro
			ok = true
		}
	case '6': // Discover, UnionPay, Maestro, RuPay
		ok = true
	}
	return ok && luhn(d)
}

// luhn reports whether the digits d pass the Luhn check.
func luhn(d string) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}
