package main

import (
	"io"
	"net/http"

	"github.com/userprops/userprops/httpapi"
)

// routes returns the handler of the server: GET (and HEAD) /healthz
// answers {"status":"ok"}, every other request goes to api. Paths reach
// api as the client sent them: a ServeMux in front would clean them first
// and redirect away the "." and ".." segments that are part of a property
// key (api cleans the rest of the path itself).
func routes(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			httpapi.SetJSONHeaders(w.Header())
			io.WriteString(w, `{"status":"ok"}`+"\n")
			return
		}
		api.ServeHTTP(w, r)
	})
}
