package userprops

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"unicode/utf8"
)

// jsonFault says why validJSON refused a value.
type jsonFault uint8

const (
	jsonOK     jsonFault = iota
	jsonSyntax           // not exactly one JSON value
	jsonUTF8             // a string holds bytes that are not UTF-8
	jsonDepth            // arrays and objects nested deeper than MaxValueDepth
)

// validJSON checks in one pass that b is exactly one JSON value (RFC 8259, as
// encoding/json.Valid reads it), optionally surrounded by JSON white space,
// that its strings are valid UTF-8 (as utf8.Valid reads it), and that it
// nests arrays and objects at most MaxValueDepth deep. It does not allocate.
//
// Strings, which make up most of real documents, are skipped eight bytes at
// a time while no byte needs a closer look (a quote, a backslash or a control
// character); UTF-8 is checked at the end by utf8.Valid, which skips ASCII
// eight bytes at a time.
func validJSON(b []byte) jsonFault {
	// containers holds one bit per open container: 1 for an object.
	var containers [MaxValueDepth/64 + 1]uint64
	depth := 0
	inObject := false // the innermost open container is an object
	i := skipSpace(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return jsonSyntax
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if depth == MaxValueDepth {
				return jsonDepth
			}
			obj := c == '{'
			if obj {
				containers[depth/64] |= 1 << (depth % 64)
			} else {
				containers[depth/64] &^= 1 << (depth % 64)
			}
			depth++
			inObject = obj
			i = skipSpace(b, i+1)
			if i < len(b) && (b[i] == '}' && obj || b[i] == ']' && !obj) {
				depth--
				inObject = depth > 0 && containers[(depth-1)/64]&(1<<((depth-1)%64)) != 0
				i++
				break // an empty container is a whole value
			}
			if obj {
				var f jsonFault
				if i, f = objectKey(b, i); f != jsonOK {
					return f
				}
			}
			continue // the first member's value
		case c == '"':
			var ok bool
			if i, ok = scanString(b, i+1); !ok {
				return jsonSyntax
			}
		case c == 't':
			if !hasLiteral(b, i, "true") {
				return jsonSyntax
			}
			i += 4
		case c == 'f':
			if !hasLiteral(b, i, "false") {
				return jsonSyntax
			}
			i += 5
		case c == 'n':
			if !hasLiteral(b, i, "null") {
				return jsonSyntax
			}
			i += 4
		default:
			var ok bool
			if i, ok = scanNumber(b, i); !ok {
				return jsonSyntax
			}
		}

		// A value ended at i: close containers, or go on to the next member.
		for {
			i = skipSpace(b, i)
			if depth == 0 {
				switch {
				case i != len(b):
					return jsonSyntax
				case !utf8.Valid(b):
					// Outside strings every byte the grammar took was
					// ASCII, so invalid UTF-8 stands in a string.
					return jsonUTF8
				}
				return jsonOK
			}
			if i >= len(b) {
				return jsonSyntax
			}
			obj := inObject
			c := b[i]
			if c == '}' && obj || c == ']' && !obj {
				depth--
				inObject = depth > 0 && containers[(depth-1)/64]&(1<<((depth-1)%64)) != 0
				i++
				continue
			}
			if c != ',' {
				return jsonSyntax
			}
			i = skipSpace(b, i+1)
			if obj {
				var f jsonFault
				if i, f = objectKey(b, i); f != jsonOK {
					return f
				}
			}
			break
		}
	}
}

// objectKey checks `"name" :` at i and returns where the member's value may
// start (after white space).
func objectKey(b []byte, i int) (int, jsonFault) {
	if i >= len(b) || b[i] != '"' {
		return i, jsonSyntax
	}
	i, ok := scanString(b, i+1)
	if !ok {
		return i, jsonSyntax
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, jsonSyntax
	}
	return skipSpace(b, i+1), jsonOK
}

func skipSpace(b []byte, i int) int {
	if i < len(b) && b[i] > ' ' { // compact JSON: no white space at all
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// scanNumber checks the number at i and returns where it ends.
func scanNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainBytes reports how many of the 8 bytes of x, from the first, need no
// closer look inside a string: none is a quote, a backslash or a control
// character. (Non-ASCII bytes are plain here; utf8.Valid checks them.)
func plainBytes(x uint64) int {
	// (v - ones*n) &^ v flags, in each byte's high bit, the bytes of v below
	// n; a borrow can only raise false flags above a true one, so the lowest
	// flag is exact. Flipping bit 1 turns a quote (0x22) into 0x20 and keeps
	// control characters below 0x20 and every other byte at or above 0x21,
	// so one test finds both.
	y := x ^ (ones * 0x02)
	backslash := x ^ (ones * '\\')
	m := ((y-ones*0x21)&^y | (backslash-ones)&^backslash) & highs
	return bits.TrailingZeros64(m) / 8
}

// scanString checks the rest of a string whose opening quote is before i,
// and returns where it ends (after the closing quote).
func scanString(b []byte, i int) (int, bool) {
	for {
		for len(b)-i >= 8 {
			n := plainBytes(binary.LittleEndian.Uint64(b[i:]))
			if n == 8 && len(b)-i >= 16 {
				n += plainBytes(binary.LittleEndian.Uint64(b[i+8:]))
			}
			i += n
			if n != 8 && n != 16 {
				break // b[i] needs a look
			}
		}
		if i >= len(b) {
			return i, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 >= len(b) {
				return i, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return i, false
				}
				i += 6
			default:
				return i, false
			}
		case c < 0x20:
			return i, false
		default:
			i++
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// What ValidateValue says of an invalid value. validJSON only tells what
// kind of fault it met, so that it stays as fast on valid values as it was;
// these functions find the place again, on the failure path only.

// syntaxError returns the ErrInvalidJSON error for b, in which validJSON
// found a syntax error: encoding/json's own scanner reads b again and says
// what it expected and where. A *json.SyntaxError's Offset counts the bytes
// read, the bad one included; at the end of the input the scanner reads one
// more space, so a value cut short in a literal or a number reads "invalid
// character ' ' in literal true (expecting 'e')", said here as "unexpected
// end of JSON input in literal true (expecting 'e')" at the end.
func syntaxError(b []byte) error {
	var syn *json.SyntaxError
	if err := json.Unmarshal(b, new(json.RawMessage)); !errors.As(err, &syn) {
		return ErrInvalidJSON // not reached: validJSON and encoding/json agree (FuzzValidateValue)
	}
	const endOfInput = "unexpected end of JSON input"
	msg, at := syn.Error(), syn.Offset-1
	if syn.Offset == int64(len(b)) {
		// The scanner's final space stands for the end; a space in b
		// itself is never refused where a space at the end would be.
		if rest, ok := strings.CutPrefix(msg, "invalid character ' '"); ok && b[len(b)-1] != ' ' {
			msg = endOfInput + rest
		}
		if strings.HasPrefix(msg, endOfInput) {
			at = int64(len(b))
		}
	}
	return fmt.Errorf("%w: %s at byte %d", ErrInvalidJSON, msg, at)
}

// invalidUTF8At returns the offset of the first byte of b that does not
// start a valid UTF-8 sequence, or len(b).
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// tooDeepAt returns the offset of the bracket that opens the array or object
// MaxValueDepth+1 deep in b, which is valid JSON up to there, or len(b).
func tooDeepAt(b []byte) int {
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > MaxValueDepth {
				return i
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return len(b)
}
