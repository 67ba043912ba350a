// Package gateway is Aloft's data-plane ingress: the listener given by
// --gateway-listen, which turns HTTP requests into invocations of
// functions and their answers back into HTTP responses, as API Gateway
// HTTP APIs and Lambda function URLs do. It knows nothing about sandboxes:
// it reads its configuration from a compiled catalog snapshot, finds the
// function in the registry and calls the invoker.
//
// A request reaches an API or a function URL in one of these ways:
//
//	http://<api id>.execute-api.localhost:<port>/<path>        Host names the API
//	http://<url id>.lambda-url.<region>.localhost:<port>/<path> Host names the function URL
//	http://<gateway>/_aloft/apis/<api id>/<path>                 path names the API
//	http://<gateway>/_aloft/urls/<url id>/<path>                 path names the function URL
//	http://<gateway>/<path>                                      the only API, when exactly one exists
//
// Only the first label of a Host and the one after it count, so any
// domain and port work (curl and browsers resolve *.localhost to
// loopback). With the path forms, the function sees <path> without the
// prefix.
//
// An API serves its routes through its stages: $default at the root of
// its address, any other stage under /<stage>. What the gateway answers
// itself:
//
//	404 {"message":"Not Found"}                  no API, stage or route
//	413 {"message":"Request Entity Too Large"}   body over 10 MB, or event over 6 MB
//	401 {"message":"Unauthorized"}              an identity source of the route's authorizer is missing
//	403 {"message":"Forbidden"}                  no valid x-api-key, or the authorizer denied (its policy does not allow the route)
//	500 {"message":"Internal Server Error"}      the authorizer failed, or answered something unreadable or a policy it cannot evaluate
//	429 {"message":"Too Many Requests"}          route or usage plan throttle, or the invoker (Retry-After set)
//	429 {"message":"Limit Exceeded"}             usage plan quota spent (Retry-After: until the period ends)
//	500 {"message":"Internal Server Error"}      the integration's function is missing
//	502 {"message":"Internal Server Error"}      function error or malformed answer
//	504 {"message":"Endpoint request timed out"} function or integration timeout
//	403 {"Message":"Forbidden"}                  unsigned request to an AWS_IAM function URL
//
// The 500 for a missing function, the 502s and the 504s also say why in
// "reason" (the function's error type and message, the malformed field,
// which timeout), beside API Gateway's message; the server logs the same
// at warn level.
//
// A function URL with InvokeMode RESPONSE_STREAM passes on the function's
// response as the function streams it, its status and headers from the
// stream's prelude (stream.go).
//
// Before a route's function runs, the stage's throttle for the route (a
// token bucket from RouteSettings or DefaultRouteSettings) and, when the
// route requires an API key, the key's usage plan (a token bucket and a
// quota per key) admit the request. Route buckets live in the compiled
// snapshot, so a change to the API refills them; usage plan counters
// live in the handler and survive catalog changes. Each handler saves what
// its quotas admitted, by key, day and its own run name (Deps.Counts),
// every few seconds and at Shutdown, and counts against each quota what
// the other servers and earlier runs saved in its period, as they save
// it; token buckets start full and are each server's own.
//
// A route with AuthorizationType CUSTOM runs its Lambda REQUEST
// authorizer first (payload 2.0). A simple response allows when
// isAuthorized is true. An IAM policy response is evaluated (package iam)
// for the action execute-api:Invoke on the request's route ARN,
// arn:aws:execute-api:us-east-1:000000000000:<api id>/<stage>/<METHOD>/<path>
// with the path within the stage, the same ARN as the event's routeArn: a
// Deny statement that matches wins, otherwise an Allow must match, with
// IAM wildcards (* any run of characters, ? one), actions matched without
// regard to case and resources exactly. Statements may use NotAction and
// NotResource; one with a Condition, or an element the gateway does not
// know, makes the answer malformed (500), never ignored.
//
// Authorizer answers (the policy whole, with principal and context) are
// cached for the authorizer's TTL, keyed by a SHA-256 digest of the
// identity source values, and a cached policy is evaluated again for each
// request, so an answer cached from one route opens no other. Each
// authorizer keeps at most catalog.MaxCachedDecisions answers, the least
// recently used going first, in the compiled snapshot: a change to the
// API empties the cache. An allowed request's payload 2.0 event carries
// the authorizer's context at requestContext.authorizer.lambda.
//
// A route with aloftCacheTtlInSeconds (an Aloft field of routes) keeps its
// 200 answers to GET and HEAD (without cookies) for that long, keyed by
// stage, path, query and the headers aloftCacheKeyHeaders names; answers
// carry x-aloft-cache: hit or miss. The cache is per node and per
// compiled snapshot, checked after keys and authorizers. Behind an
// authorizer or an API key the key also holds who the caller is: a digest
// of the authorizer's identity values, the principal and context it
// answered (all an authorizer without identity sources has to tell callers
// apart) and the API key, so that no caller is served another's answer.
//
// A route whose integration is ALOFT_S3 (URI arn:aws:s3:::<bucket> or
// arn:aws:s3:::<bucket>/<prefix>) serves the bucket's objects as a static
// site: the key is the prefix plus the stage's path (the integration's
// index document, index.html by default, for paths ending in /), with the
// object's Content-Type, ETag (If-None-Match answers 304), Last-Modified
// and Cache-Control (the object's own, else the integration's, by default
// "public, max-age=60"); a missing object answers the error document with
// 404 when one is set. Only GET and HEAD are served (405 otherwise).
//
// Every response carries the request id: apigw-requestid for APIs,
// x-amzn-RequestId for function URLs, the same id as the event's
// requestContext.requestId.
package gateway
