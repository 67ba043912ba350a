package edge

import (
	"net/http"
	"strings"
)

// The markers by which Service.Recognize tells an unsigned request for
// a service, one per protocol family. An unsigned request is refused in
// the recognised service's own protocol, so that its client decodes the
// refusal; the markers never decide where a signed request goes (its
// credential scope does).

// Target recognises the JSON protocols' requests: X-Amz-Target starting
// with prefix and a dot (Logs_20140328, AmazonSQS, DynamoDB_20120810).
func Target(prefix string) func(*http.Request) bool {
	p := prefix + "."
	return func(r *http.Request) bool { return strings.HasPrefix(r.Header.Get("X-Amz-Target"), p) }
}

// PathUnder recognises the REST protocols' requests: a path that is one
// of prefixes or below one.
func PathUnder(prefixes ...string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		for _, p := range prefixes {
			if r.URL.Path == p || strings.HasPrefix(r.URL.Path, p+"/") {
				return true
			}
		}
		return false
	}
}

// CBOR recognises the Smithy RPC v2 CBOR protocol's requests for the
// service whose shape name is service (GraniteServiceVersion20100801 for
// CloudWatch): POST /service/<service>/operation/<operation>.
func CBOR(service string) func(*http.Request) bool {
	p := "/service/" + service + "/operation/"
	return func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, p) }
}

// Action recognises the query protocol's requests for a service whose
// actions are those given: Action=<one of them> in the URL's query
// string. A POST that carries Action only in its form body is not told
// apart unsigned, since the front door reads no body before the
// signature; it goes to the table's fallback.
func Action(actions ...string) func(*http.Request) bool {
	set := make(map[string]bool, len(actions))
	for _, a := range actions {
		set[a] = true
	}
	return func(r *http.Request) bool {
		if !strings.Contains(r.URL.RawQuery, "Action=") {
			return false
		}
		return set[r.URL.Query().Get("Action")]
	}
}
