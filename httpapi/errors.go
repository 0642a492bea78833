package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/userprops/userprops"
)

// errorBody is Jira's error document.
type errorBody struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
}

// message returns Jira's wording for err (SPEC.md), or ours where Jira's is
// not known. key is the property key of the request, for messages that name
// it.
func message(err error, key string) string {
	switch {
	case errors.Is(err, userprops.ErrUnauthorized):
		return "Client must be authenticated to access this resource."
	case errors.Is(err, userprops.ErrForbidden):
		return "You do not have permission to access the properties of this user."
	case errors.Is(err, userprops.ErrAccountIDMissing):
		return "The accountId query parameter is required."
	case errors.Is(err, userprops.ErrInvalidAccountID):
		return "The accountId is not valid: it must be at most " +
			strconv.Itoa(userprops.MaxAccountIDLength) + " characters of valid UTF-8 and not blank."
	case errors.Is(err, userprops.ErrKeyMissing):
		return "The property key must be specified."
	case errors.Is(err, userprops.ErrKeyTooLong):
		return "The property key is too long. Maximum length is " + strconv.Itoa(userprops.MaxKeyLength) + " characters."
	case errors.Is(err, userprops.ErrInvalidKey):
		return "The property key is not valid: it must be valid UTF-8 and not blank."
	case errors.Is(err, userprops.ErrValueMissing):
		return "The property value can not be empty."
	case errors.Is(err, userprops.ErrValueTooLarge):
		return "The JSON data provided for the property is too long. Maximum length is " +
			strconv.Itoa(userprops.MaxValueBytes) + " bytes."
	case errors.Is(err, userprops.ErrInvalidJSON):
		return "The JSON data provided for the property is not a valid JSON."
	case errors.Is(err, userprops.ErrUserNotFound):
		return "The specified user does not exist in the system."
	case errors.Is(err, userprops.ErrNotFound):
		return "The property " + key + " does not exist."
	case errors.Is(err, userprops.ErrClosed):
		return "The service is shutting down."
	default:
		return "Internal server error."
	}
}

// writeStoreError answers err with its status (userprops.HTTPStatus) and
// Jira's error body.
func writeStoreError(w http.ResponseWriter, err error, key string) {
	writeError(w, userprops.HTTPStatus(err), message(err, key))
}

// writeError answers status with Jira's error body holding msg.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{ErrorMessages: []string{msg}, Errors: map[string]string{}})
}

// writeJSON answers status with v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"errorMessages":["Internal server error."],"errors":{}}`)
	}
	writeBody(w, status, append(body, '\n'))
}

// writeBody answers status with a JSON body.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
