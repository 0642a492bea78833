package userprops

import (
	"context"
	"encoding/json"
	"fmt"
)

// Typed values: the Store keeps JSON text; these helpers encode and decode it
// with encoding/json, so that a program stores its own types without a
// json.Marshal before every Set and a json.Unmarshal after every Get. They
// work on any Store (ForActor views and other backends included) and add
// nothing to the interface.

// GetJSON reads the property stored under (accountID, key) of s and decodes
// its value into a new T with json.Unmarshal. It returns the decoded value and
// the Property itself (Value holds the stored bytes, as Get returns them).
//
// The errors are those of s.Get (wrapping ErrNotFound when the property does
// not exist, and the others the Store documents), returned unchanged with a
// zero T and a zero Property. A stored value that does not decode into a T
// (a JSON string where T is a struct, a number too large for an int8, an
// error from T's UnmarshalJSON) returns an error that names the account, the
// key and the type, wrapping the error of encoding/json (for example a
// *json.UnmarshalTypeError, for errors.As), with a zero T and the Property as
// it was read, so that the caller can look at the stored bytes. Such an error
// wraps no sentinel of this package: the value is valid JSON, the program's
// type does not fit it (HTTPStatus answers 500).
func GetJSON[T any](ctx context.Context, s Store, accountID, key string) (T, Property, error) {
	var v T
	p, err := s.Get(ctx, accountID, key)
	if err != nil {
		return v, Property{}, err
	}
	if err := json.Unmarshal(p.Value, &v); err != nil {
		var zero T
		return zero, p, fmt.Errorf("userprops: the value of property %s of account %s does not decode into %T: %w",
			abbrev(key), abbrev(accountID), zero, err)
	}
	return v, p, nil
}

// SetJSON encodes v with json.Marshal and stores it under (accountID, key) of
// s, as s.Set does: it returns Created or Updated, and the errors of Set. The
// encoded value meets the same rules as any other: a v whose encoding is
// longer than MaxValueBytes returns an error wrapping ErrValueTooLarge, one
// nested deeper than MaxValueDepth ErrInvalidJSON, and the account limits
// apply (ErrAccountFull).
//
// A v that encoding/json cannot encode (a channel, a function, a NaN, a
// cycle, an error from a MarshalJSON method) returns an error wrapping both
// ErrInvalidJSON and the error of encoding/json (for errors.As), and s is not
// called; an invalid account ID or key is reported first, as Set checks the
// account ID, then the key, then the value. SetJSON keeps no reference to v.
func SetJSON(ctx context.Context, s Store, accountID, key string, v any) (Status, error) {
	value, err := json.Marshal(v)
	if err != nil {
		if err := ValidateAccountID(accountID); err != nil {
			return 0, err
		}
		if err := ValidateKey(key); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w: encoding a %T: %w", ErrInvalidJSON, v, err)
	}
	return s.Set(ctx, accountID, key, value)
}
