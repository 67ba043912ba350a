// Package awsproto is the protocol kit of Aloft's AWS-compatible APIs:
// what they share on the wire, so that each API package only decodes,
// calls its domain and encodes.
//
//   - The account and default region every resource belongs to, and the
//     parsing of Amazon Resource Names (LambdaFunction).
//   - One error type, Error, written by WriteError in the shape each
//     protocol family's clients decode (rest-json, Lambda's rest-json,
//     json-1.0/1.1 with the query-compatible header, rest-xml,
//     query-xml, Smithy RPC v2 CBOR), and Status, the status of each
//     fault.Kind.
//   - Operation-table dispatch for the RPC protocols: JSONAPI
//     (X-Amz-Target, and Smithy RPC v2 CBOR for the same operations when
//     its CBOR is set) and QueryAPI (Action=), which decode requests, map
//     domain errors through the API's one table and carry the request id
//     the front door gave the response. HandleForm serves a JSON-shaped
//     operation in the query protocol too (DecodeQuery, QueryResult), and
//     Time is a timestamp in each protocol's encoding.
//   - Page, the one way listings cut pages and make their tokens.
//
// Every package that writes an account id, a default region or reads an
// ARN takes it from here.
package awsproto

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// The one account of a server, and the region of a request that names
// none.
const (
	AccountID     = "000000000000"
	DefaultRegion = "us-east-1"
)

// LambdaFunction reads a Lambda function ARN
// (arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]) and
// returns the function's name and qualifier; ok is false for anything
// else. The name and qualifier are not validated.
func LambdaFunction(s string) (name, qualifier string, ok bool) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "lambda" {
		return "", "", false
	}
	kind, rest, found := strings.Cut(a.Resource, ":")
	if !found || kind != "function" || rest == "" {
		return "", "", false
	}
	name, qualifier, _ = strings.Cut(rest, ":")
	if name == "" || strings.Contains(qualifier, ":") {
		return "", "", false
	}
	return name, qualifier, true
}
