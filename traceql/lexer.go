package traceql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tEOF       tokKind = iota
	tIdent             // a bare word: keyword, intrinsic, function or hint name
	tAttr              // an attribute: scope in tok.scope, name in tok.str
	tScoped            // a scoped intrinsic "span:name": scope word in tok.scope, name in tok.str
	tString            // a string literal, decoded in tok.str
	tInt               // an integer literal in tok.i
	tFloat             // a float literal in tok.f
	tDuration          // a duration literal, nanoseconds in tok.i
	tLBrace            // {
	tRBrace            // }
	tLParen            // (
	tRParen            // )
	tComma             // ,
	tEq                // =
	tNeq               // !=
	tRe                // =~
	tNre               // !~ (also the not-sibling spanset operator)
	tGt                // >
	tGte               // >=
	tLt                // <
	tLte               // <=
	tAdd               // +
	tSub               // -
	tMul               // *
	tDiv               // /
	tMod               // %
	tPow               // ^
	tAnd               // &&
	tOr                // ||
	tNot               // !
	tPipe              // |
	tDesc              // >>
	tAnce              // <<
	tTilde             // ~
	tNotChild          // !>
	tNotParent         // !<
	tNotDesc           // !>>
	tNotAnce           // !<<
	tUChild            // &>
	tUParent           // &<
	tUDesc             // &>>
	tUAnce             // &<<
	tUSibl             // &~
)

// pos is a 1-based position in the query text (columns count runes).
type pos struct{ line, col int }

type token struct {
	kind  tokKind
	text  string // the source text of the token
	str   string
	scope string
	i     int64
	f     float64
	pos   pos
}

// describe names the token for an error message.
func (t token) describe() string {
	if t.kind == tEOF {
		return "end of query"
	}
	return strconv.Quote(t.text)
}

// punctuation, longest first within each leading rune.
var punct = []struct {
	s string
	k tokKind
}{
	{"!>>", tNotDesc}, {"!<<", tNotAnce}, {"&>>", tUDesc}, {"&<<", tUAnce},
	{"!=", tNeq}, {"!~", tNre}, {"!>", tNotChild}, {"!<", tNotParent},
	{"=~", tRe}, {">=", tGte}, {">>", tDesc}, {"<=", tLte}, {"<<", tAnce},
	{"&&", tAnd}, {"||", tOr}, {"&>", tUChild}, {"&<", tUParent}, {"&~", tUSibl},
	{"{", tLBrace}, {"}", tRBrace}, {"(", tLParen}, {")", tRParen}, {",", tComma},
	{"=", tEq}, {">", tGt}, {"<", tLt}, {"+", tAdd}, {"-", tSub}, {"*", tMul},
	{"/", tDiv}, {"%", tMod}, {"^", tPow}, {"!", tNot}, {"|", tPipe}, {"~", tTilde},
}

// attribute scopes written as "<scope>." before an attribute name.
var dotScopes = map[string]bool{
	"span": true, "resource": true, "event": true, "link": true, "instrumentation": true, "parent": true,
}

// intrinsic scopes written as "<scope>:" before an intrinsic name.
var colonScopes = map[string]bool{
	"span": true, "trace": true, "event": true, "link": true, "instrumentation": true,
}

type lexer struct {
	src  string
	off  int // byte offset
	line int
	col  int
}

func (l *lexer) errAt(p pos, format string, args ...any) *ParseError {
	return &ParseError{Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) peekRune() rune {
	if l.off >= len(l.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.off:])
	return r
}

func (l *lexer) peekRuneAt(byteOff int) rune {
	if byteOff >= len(l.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(l.src[byteOff:])
	return r
}

func (l *lexer) next() rune {
	if l.off >= len(l.src) {
		return -1
	}
	r, n := utf8.DecodeRuneInString(l.src[l.off:])
	l.off += n
	if r == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
	return r
}

func (l *lexer) here() pos { return pos{l.line, l.col} }

// lex splits a query into tokens, the last one tEOF.
func lex(src string) ([]token, error) {
	l := &lexer{src: src, line: 1, col: 1}
	if !utf8.ValidString(src) {
		for l.off < len(src) {
			if r, n := utf8.DecodeRuneInString(src[l.off:]); r == utf8.RuneError && n <= 1 {
				return nil, l.errAt(l.here(), "invalid UTF-8 in query")
			}
			l.next()
		}
	}
	var toks []token
	for {
		tok, err := l.scan()
		if err != nil {
			return nil, err
		}
		toks = append(toks, tok)
		if tok.kind == tEOF {
			return toks, nil
		}
	}
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentRune(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
func isDigit(r rune) bool      { return r >= '0' && r <= '9' }

// isAttrRune reports whether r may appear unquoted in an attribute name:
// anything but white space and the runes that end an attribute.
func isAttrRune(r rune) bool {
	if r < 0 || unicode.IsSpace(r) {
		return false
	}
	switch r {
	case '{', '}', '(', ')', '=', '~', '!', '<', '>', '&', '|', '^', ',', '"':
		return false
	}
	return true
}

func (l *lexer) scan() (token, error) {
	for {
		r := l.peekRune()
		if r >= 0 && unicode.IsSpace(r) {
			l.next()
			continue
		}
		break
	}
	start := l.off
	p := l.here()
	r := l.peekRune()
	mk := func(k tokKind) token { return token{kind: k, text: l.src[start:l.off], pos: p} }
	if r < 0 {
		return token{kind: tEOF, pos: p}, nil
	}
	switch {
	case r == '"' || r == '`':
		s, err := l.scanString()
		if err != nil {
			return token{}, err
		}
		t := mk(tString)
		t.str = s
		return t, nil
	case isDigit(r) || (r == '.' && isDigit(l.peekRuneAt(l.off+1))):
		return l.scanNumber()
	case r == '.':
		l.next()
		name, err := l.scanAttrName(p)
		if err != nil {
			return token{}, err
		}
		t := mk(tAttr)
		t.str = name
		return t, nil
	case isIdentStart(r):
		for isIdentRune(l.peekRune()) {
			l.next()
		}
		word := l.src[start:l.off]
		switch l.peekRune() {
		case '.':
			if dotScopes[word] {
				l.next()
				name, err := l.scanAttrName(p)
				if err != nil {
					return token{}, err
				}
				t := mk(tAttr)
				t.scope = word
				t.str = name
				return t, nil
			}
		case ':':
			if colonScopes[word] {
				l.next()
				if !isIdentStart(l.peekRune()) {
					return token{}, l.errAt(l.here(), "expecting an intrinsic name after %q", word+":")
				}
				nameStart := l.off
				for isIdentRune(l.peekRune()) {
					l.next()
				}
				t := mk(tScoped)
				t.scope = word
				t.str = l.src[nameStart:l.off]
				return t, nil
			}
		}
		t := mk(tIdent)
		t.str = word
		return t, nil
	}
	for _, pu := range punct {
		if strings.HasPrefix(l.src[l.off:], pu.s) {
			for range pu.s {
				l.next()
			}
			return mk(pu.k), nil
		}
	}
	return token{}, l.errAt(p, "unexpected character %q", r)
}

// scanAttrName reads an attribute name after its scope and dot: unquoted
// runes and quoted parts ("…" with \" and \\ escapes) in any mix.
func (l *lexer) scanAttrName(start pos) (string, error) {
	var sb strings.Builder
	for {
		r := l.peekRune()
		switch {
		case r == '"':
			qp := l.here()
			l.next()
			for {
				c := l.next()
				if c < 0 {
					return "", l.errAt(qp, "unterminated quoted attribute name")
				}
				if c == '"' {
					break
				}
				if c == '\\' {
					e := l.next()
					if e != '"' && e != '\\' {
						return "", l.errAt(qp, `invalid escape sequence in quoted attribute name (only \" and \\ are allowed)`)
					}
					c = e
				}
				sb.WriteRune(c)
			}
		case isAttrRune(r):
			sb.WriteRune(l.next())
		default:
			if sb.Len() == 0 {
				found := "end of query"
				if r >= 0 {
					found = strconv.QuoteRune(r)
				}
				return "", l.errAt(l.here(), "unexpected %s, expecting an attribute name", found)
			}
			return sb.String(), nil
		}
	}
}

func (l *lexer) scanString() (string, error) {
	p := l.here()
	start := l.off
	q := l.next()
	for {
		c := l.next()
		if c < 0 {
			return "", l.errAt(p, "unterminated string")
		}
		if c == q {
			break
		}
		if c == '\\' && q == '"' {
			if l.next() < 0 {
				return "", l.errAt(p, "unterminated string")
			}
		}
		if c == '\n' && q == '"' {
			return "", l.errAt(p, "newline in string")
		}
	}
	s, err := strconv.Unquote(l.src[start:l.off])
	if err != nil {
		return "", l.errAt(p, "invalid string %s: bad escape sequence", l.src[start:l.off])
	}
	return s, nil
}

func (l *lexer) scanNumber() (token, error) {
	p := l.here()
	start := l.off
	isFloat := false
	for isDigit(l.peekRune()) {
		l.next()
	}
	if l.peekRune() == '.' && isDigit(l.peekRuneAt(l.off+1)) {
		isFloat = true
		l.next()
		for isDigit(l.peekRune()) {
			l.next()
		}
	}
	if r := l.peekRune(); r == 'e' || r == 'E' {
		o := l.off + 1
		if c := l.peekRuneAt(o); c == '+' || c == '-' {
			o++
		}
		if isDigit(l.peekRuneAt(o)) {
			isFloat = true
			l.next()
			if c := l.peekRune(); c == '+' || c == '-' {
				l.next()
			}
			for isDigit(l.peekRune()) {
				l.next()
			}
		}
	}
	if r := l.peekRune(); isIdentRune(r) || r == 'µ' || r == 'μ' {
		// a duration such as 1s, 1.5ms, 1h30m
		l.off, l.line, l.col = start, p.line, p.col
		for {
			r := l.peekRune()
			if isDigit(r) || r == '.' || isIdentRune(r) || r == 'µ' || r == 'μ' {
				l.next()
				continue
			}
			break
		}
		text := l.src[start:l.off]
		d, err := parseDuration(text)
		if err != nil {
			return token{}, l.errAt(p, "invalid duration %q: %v", text, err)
		}
		return token{kind: tDuration, text: text, i: d, pos: p}, nil
	}
	text := l.src[start:l.off]
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) {
			return token{}, l.errAt(p, "invalid number %q", text)
		}
		return token{kind: tFloat, text: text, f: f, pos: p}, nil
	}
	i, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return token{}, l.errAt(p, "integer %s out of range (use minInt/maxInt for the limits)", text)
	}
	return token{kind: tInt, text: text, i: i, pos: p}, nil
}

var durationUnits = map[string]int64{
	"ns": 1,
	"us": 1e3, "µs": 1e3, "μs": 1e3,
	"ms": 1e6,
	"s":  1e9,
	"m":  60e9,
	"h":  3600e9,
	"d":  24 * 3600e9,
	"w":  7 * 24 * 3600e9,
	"y":  365 * 24 * 3600e9,
}

// parseDuration parses a sequence of <number><unit> parts ("1h30m",
// "1.5s", "250ms") into nanoseconds.
func parseDuration(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total int64
	for s != "" {
		i := 0
		for i < len(s) && isDigit(rune(s[i])) {
			i++
		}
		intPart := s[:i]
		frac := ""
		if i < len(s) && s[i] == '.' {
			j := i + 1
			for j < len(s) && isDigit(rune(s[j])) {
				j++
			}
			frac = s[i+1 : j]
			i = j
		}
		if intPart == "" && frac == "" {
			return 0, fmt.Errorf("expecting a number")
		}
		j := i
		for j < len(s) && !isDigit(rune(s[j])) && s[j] != '.' {
			j++
		}
		unit := s[i:j]
		mult, ok := durationUnits[unit]
		if !ok {
			if unit == "" {
				return 0, fmt.Errorf("missing unit")
			}
			return 0, fmt.Errorf("unknown unit %q", unit)
		}
		var v int64
		if intPart != "" {
			n, err := strconv.ParseInt(intPart, 10, 64)
			if err != nil || n > math.MaxInt64/mult {
				return 0, fmt.Errorf("out of range")
			}
			v = n * mult
		}
		if frac != "" {
			if len(frac) > 18 {
				frac = frac[:18]
			}
			fn, _ := strconv.ParseInt(frac, 10, 64)
			v += int64(math.Round(float64(fn) * float64(mult) / math.Pow10(len(frac))))
		}
		if v < 0 || total > math.MaxInt64-v {
			return 0, fmt.Errorf("out of range")
		}
		total += v
		s = s[j:]
	}
	return total, nil
}
