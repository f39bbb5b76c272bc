package testenv

// BadName is a name every name rule refuses, with the class of character that makes it bad.
type BadName struct {
	Class string
	Name  string
}

// BadNames returns one name per class the name rule (identity.CheckName) refuses: C0 and C1
// control characters, Unicode format characters (zero-width, bidi controls, BOM), line
// separators, invisible fillers, whitespace only, leading or trailing whitespace, and invalid
// UTF-8 (which a lenient decoder would turn into U+FFFD, making two names collide).
func BadNames() []BadName {
	return []BadName{
		{"NUL", "ci\x00bot"},
		{"C0 escape", "ci\x1b[31mbot"},
		{"newline", "ci\nbot"},
		{"tab", "ci\tbot"},
		{"DEL", "ci\x7fbot"},
		{"C1 NEL", "ci\u0085bot"},
		{"C1 CSI", "ci\u009bbot"},
		{"RLO", "ci\u202etob"},
		{"LRE", "\u202aci"},
		{"FSI isolate", "ci\u2068bot\u2069"},
		{"RLM", "ci\u200fbot"},
		{"zero-width space", "ci\u200bbot"},
		{"zero-width joiner", "ci\u200dbot"},
		{"zero-width non-joiner", "ci\u200cbot"},
		{"word joiner", "ci\u2060bot"},
		{"BOM", "\ufeffci"},
		{"soft hyphen", "ci\u00adbot"},
		{"line separator", "ci\u2028bot"},
		{"Hangul filler", "ci\u3164"},
		{"space only", " "},
		{"ideographic space only", "\u3000\u3000"},
		{"no-break space only", "\u00a0"},
		{"leading space", " ci"},
		{"trailing space", "ci "},
		{"trailing no-break space", "ci\u00a0"},
		{"invalid UTF-8", "ci\xffbot"},
		{"truncated UTF-8", "ci\xc3"},
		{"UTF-8 surrogate", "ci\xed\xa0\x80"},
		{"overlong UTF-8", "ci\xc0\xaf"},
	}
}

// GoodNames returns names the name rule accepts: letters of any script, punctuation, inner
// spaces and emoji.
func GoodNames() []string {
	return []string{"ci", "Ada Lovelace", "José Müller", "李小龍", "O'Brien-Smith", "deploy bot #2", "rocket 🚀", "a  b"}
}

// Lookalike is an email address that must not be taken for another: Of is the ASCII address
// a Unicode-folding normaliser would turn it into.
type Lookalike struct {
	Class string
	Email string
	Of    string
}

// LookalikeEmails returns addresses that strings.ToLower, case folding or NFKC would fold
// onto an ASCII address, and mixed-script look-alikes. identity.NormalizeEmail refuses all
// of them.
func LookalikeEmails() []Lookalike {
	return []Lookalike{
		{"U+212A KELVIN SIGN", "\u212Aim@example.com", "kim@example.com"},
		{"U+0130 dotted capital I", "b\u0130ll@example.com", "bill@example.com"},
		{"U+017F long s", "\u017Fam@example.com", "sam@example.com"},
		{"U+212B ANGSTROM SIGN", "\u212Bnn@example.com", "ann@example.com"},
		{"fullwidth local part", "\uff4b\uff49\uff4d@example.com", "kim@example.com"},
		{"fullwidth at sign", "kim\uff20example.com", "kim@example.com"},
		{"Cyrillic a", "\u0430nn@example.com", "ann@example.com"},
		{"Greek omicron in domain", "kim@ex\u03bfample.com", "kim@example.com"},
		{"Kelvin in domain", "kim@\u212Aexample.com", "kim@kexample.com"},
		{"IDN domain not in punycode", "kim@b\u00fccher.example", "kim@xn--bcher-kva.example"},
		{"zero-width space", "k\u200bim@example.com", "kim@example.com"},
		{"no-break space around", "\u00a0kim@example.com", "kim@example.com"},
	}
}
