package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/wire"
)

// message returns Jira's wording for err (see wire.Message).
func message(err error, key string) string { return wire.Message(err, key) }

const internalError = wire.InternalError

// writeStoreError answers err with its status (userprops.HTTPStatus) and
// Jira's error body.
func writeStoreError(w http.ResponseWriter, err error, key string) {
	writeError(w, userprops.HTTPStatus(err), message(err, key))
}

// writeError answers status with Jira's error body holding msg.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, wire.ErrorBody{ErrorMessages: []string{msg}, Errors: map[string]string{}})
}

// writeJSON answers status with v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"errorMessages":["`+internalError+`"],"errors":{}}`)
	}
	writeBody(w, status, append(body, '\n'))
}

// writeBody answers status with a JSON body.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	SetJSONHeaders(w.Header())
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// SetJSONHeaders sets the headers of every JSON answer: the Content-Type,
// X-Content-Type-Options: nosniff (no browser takes the answer for
// anything but JSON) and Cache-Control: no-store (no cache, a browser's
// included, keeps a user's properties or a credential's answer).
func SetJSONHeaders(h http.Header) {
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}
