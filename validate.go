package userprops

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Jira's limits. Lengths of account IDs and keys count UTF-16 code units, as
// Jira (a Java program) does: a letter such as "é" counts 1, an emoji outside
// the Basic Multilingual Plane counts 2.
const (
	// MaxKeyLength is the longest property key, in UTF-16 code units.
	MaxKeyLength = 255
	// MaxValueBytes is the largest property value, in bytes.
	MaxValueBytes = 32768
	// MaxAccountIDLength is the longest account ID, in UTF-16 code units.
	MaxAccountIDLength = 128
	// MaxValueDepth is the deepest nesting of arrays and objects a value
	// may have. It is the limit of Go's encoding/json, so that every value
	// a store accepts decodes there; within MaxValueBytes only values of
	// more than 20000 bytes can reach it.
	MaxValueDepth = 10000
)

// ValidateAccountID reports whether accountID is acceptable: it returns nil, or
// an error wrapping ErrAccountIDMissing (empty) or ErrInvalidAccountID (not
// valid UTF-8, only white space, or longer than MaxAccountIDLength). Every other
// character, NUL and '/' included, is allowed.
func ValidateAccountID(accountID string) error {
	return validateText(accountID, MaxAccountIDLength, ErrAccountIDMissing, ErrInvalidAccountID, ErrInvalidAccountID)
}

// ValidateKey reports whether key is an acceptable property key: it returns
// nil, or an error wrapping ErrKeyMissing (empty), ErrKeyTooLong (longer than
// MaxKeyLength UTF-16 code units) or ErrInvalidKey (not valid UTF-8, or only
// white space). Every other character, '.', ':', '/', space and NUL included,
// is allowed.
func ValidateKey(key string) error {
	return validateText(key, MaxKeyLength, ErrKeyMissing, ErrKeyTooLong, ErrInvalidKey)
}

// validateText applies the rules account IDs and keys share: required, valid
// UTF-8, at most max UTF-16 code units, not blank.
func validateText(s string, max int, missing, tooLong, invalid error) error {
	switch {
	case s == "":
		return missing
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", invalid, abbrev(s))
	case len(s) > max && utf16Len(s) > max:
		return fmt.Errorf("%w: it is %d characters long, the maximum is %d", tooLong, utf16Len(s), max)
	case isBlank(s):
		return fmt.Errorf("%w: %s is blank", invalid, abbrev(s))
	}
	return nil
}

// ValidateValue reports whether value is an acceptable property value: exactly
// one JSON value of any type, optionally surrounded by JSON white space, in
// valid UTF-8, at most MaxValueBytes long and nested at most MaxValueDepth
// deep: exactly what encoding/json.Valid and utf8.Valid both accept. It
// returns nil, or an error wrapping ErrValueMissing (empty or only white
// space), ErrValueTooLarge (checked before any parsing) or ErrInvalidJSON.
// An ErrInvalidJSON error says where and why, counting bytes from 0: what
// encoding/json says of the first byte it cannot take ("invalid character
// '}' looking for beginning of object key string at byte 7", "unexpected
// end of JSON input at byte 12"), where a string's invalid UTF-8 starts, or
// where the nesting passes MaxValueDepth. It does not allocate when value is
// valid; the detail is worked out only for an invalid value.
func ValidateValue(value []byte) error {
	switch {
	case len(value) == 0:
		return ErrValueMissing
	case len(value) > MaxValueBytes:
		return fmt.Errorf("%w: it is %d bytes long, the maximum is %d",
			ErrValueTooLarge, len(value), MaxValueBytes)
	}
	switch validJSON(value) {
	case jsonSyntax:
		if isJSONSpace(value) {
			return ErrValueMissing
		}
		return syntaxError(value)
	case jsonUTF8:
		return fmt.Errorf("%w: a string is not valid UTF-8 at byte %d", ErrInvalidJSON, invalidUTF8At(value))
	case jsonDepth:
		return fmt.Errorf("%w: nested more than %d deep at byte %d", ErrInvalidJSON, MaxValueDepth, tooDeepAt(value))
	}
	return nil
}

// ValidateProperty checks a whole property with the rules of Set: its
// account ID, key and value, in that order (Version and UpdatedAt are not
// checked). It is for properties that arrive in bulk, such as an import.
func ValidateProperty(p Property) error {
	if err := ValidateAccountID(p.AccountID); err != nil {
		return err
	}
	if err := ValidateKey(p.Key); err != nil {
		return err
	}
	return ValidateValue(p.Value)
}

// ValidateRestorable reports whether p may be restored exactly as it is (as
// BoltStore.Restore and pgstore's Restore write properties, and import reads
// them): it follows the rules of Set (ValidateProperty), and its Version is
// one Set could have given it, from 1 to MaxVersion.
func ValidateRestorable(p Property) error {
	if err := ValidateProperty(p); err != nil {
		return err
	}
	if p.Version == 0 || p.Version > MaxVersion {
		// No prefix: every caller says which property, and where.
		return fmt.Errorf("version %d: versions run from 1 to %d", p.Version, MaxVersion)
	}
	return nil
}

// utf16Len returns the length of the valid UTF-8 string s in UTF-16 code
// units: one per rune, and one more for each rune outside the Basic
// Multilingual Plane (those take four bytes in UTF-8). It never exceeds
// len(s), so a string of at most n bytes needs no counting against a limit n.
func utf16Len(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b&0xC0 != 0x80 { // not a continuation byte: a rune starts here
			n++
			if b >= 0xF0 { // a four-byte rune: a surrogate pair in UTF-16
				n++
			}
		}
	}
	return n
}

// isBlank reports whether s consists of white space only.
func isBlank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// isJSONSpace reports whether b consists of JSON white space only.
func isJSONSpace(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}
