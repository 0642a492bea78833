package userprops

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Property is one stored user property.
type Property struct {
	// AccountID is the account the property belongs to.
	AccountID string
	// Key is the property key.
	Key string
	// Value is the JSON value exactly as it was given to Set, byte for byte.
	// A Property returned by a Store owns its Value: the caller may keep and
	// modify it.
	Value json.RawMessage
	// Version is 1 when the property is created (also when it is created
	// again after a delete) and grows by 1 with each update.
	Version uint64
	// Revision is the store-wide revision of the property's last change
	// (see SetIf): it grows with every change of any property and is
	// never reused, so it tells this value from every other this property
	// ever had, also across a delete and re-creation.
	Revision uint64
	// UpdatedAt is when the property was last set, read from the store's
	// clock (see WithClock), in UTC with nanosecond precision. Writes that a
	// durable store commits together share one time.
	UpdatedAt time.Time
}

// MaxVersion is the largest Property.Version: the largest version every
// backend can hold (PostgreSQL's bigint is signed). Restore refuses larger
// versions, and a Set that would pass it fails and changes nothing, so a
// version never wraps to 0. At a billion updates a second it takes 292
// years to reach.
const MaxVersion uint64 = math.MaxInt64

// Status tells whether Set created a property or updated an existing one.
type Status int

const (
	// Created means the property did not exist before the call
	// (Jira answers 201).
	Created Status = iota + 1
	// Updated means the property existed and its value was replaced
	// (Jira answers 200).
	Updated
)

// String returns "created" or "updated".
func (s Status) String() string {
	switch s {
	case Created:
		return "created"
	case Updated:
		return "updated"
	default:
		return "Status(" + strconv.Itoa(int(s)) + ")"
	}
}

// HTTPStatus returns the status code Jira answers a successful set with:
// 201 for Created and 200 for Updated. It returns 500 for any other value.
func (s Status) HTTPStatus() int {
	switch s {
	case Created:
		return http.StatusCreated
	case Updated:
		return http.StatusOK
	default:
		return http.StatusInternalServerError
	}
}
