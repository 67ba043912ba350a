package sigv4

import (
	"fmt"
	"time"
)

// Kind classifies why a request failed verification.
type Kind uint8

// Verification failure kinds.
const (
	// Missing: the request carries neither an Authorization header nor a
	// presigned query.
	Missing Kind = iota + 1
	// Malformed: the Authorization header, credential, date or presigned
	// query cannot be parsed, the algorithm is not AWS4-HMAC-SHA256, host is
	// not signed, or a signed header is absent.
	Malformed
	// UnknownKey: the access key ID is not known.
	UnknownKey
	// Mismatch: the signature does not match the one computed here.
	Mismatch
	// Expired: the request time is outside the allowed skew, or a presigned
	// URL has expired or asks for a lifetime longer than seven days.
	Expired
)

// String returns a short lower-case name for k.
func (k Kind) String() string {
	switch k {
	case Missing:
		return "missing authentication"
	case Malformed:
		return "malformed signature"
	case UnknownKey:
		return "unknown access key"
	case Mismatch:
		return "signature mismatch"
	case Expired:
		return "signature expired"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error is a verification failure. Message holds the text AWS returns for
// the same failure where one exists, so the HTTP layer can pass it to
// clients unchanged.
//
// The HTTP layer picks the exception name with AWSCode. For reference, the
// names AWS uses are:
//
//	Kind        Lambda, CloudWatch Logs and other JSON/REST services   S3
//	Missing     MissingAuthenticationTokenException                    AccessDenied
//	Malformed   IncompleteSignatureException                           AuthorizationHeaderMalformed (AuthorizationQueryParametersError when presigned)
//	UnknownKey  UnrecognizedClientException                            InvalidAccessKeyId
//	Mismatch    InvalidSignatureException                              SignatureDoesNotMatch
//	Expired     InvalidSignatureException                              RequestTimeTooSkewed (AccessDenied when presigned)
type Error struct {
	Kind    Kind
	Message string

	presigned bool // the request used the query (presigned) form
}

// Error returns the kind and the AWS message.
func (e *Error) Error() string { return e.Kind.String() + ": " + e.Message }

// AWSCode returns the exception name the given signing service ("lambda",
// "logs", "s3", ...) uses for e, as listed on Error.
func (e *Error) AWSCode(service string) string {
	if service == "s3" {
		switch e.Kind {
		case Missing:
			return "AccessDenied"
		case Malformed:
			if e.presigned {
				return "AuthorizationQueryParametersError"
			}
			return "AuthorizationHeaderMalformed"
		case UnknownKey:
			return "InvalidAccessKeyId"
		case Mismatch:
			return "SignatureDoesNotMatch"
		case Expired:
			if e.presigned {
				return "AccessDenied"
			}
			return "RequestTimeTooSkewed"
		}
		return "AccessDenied"
	}
	switch e.Kind {
	case Missing:
		return "MissingAuthenticationTokenException"
	case Malformed:
		return "IncompleteSignatureException"
	case UnknownKey:
		return "UnrecognizedClientException"
	case Mismatch, Expired:
		return "InvalidSignatureException"
	}
	return "AccessDeniedException"
}

// Messages AWS returns for each failure.
const (
	msgMissing         = "Missing Authentication Token"
	msgMismatch        = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgMismatchS3      = "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	msgUnknownKey      = "The security token included in the request is invalid."
	msgUnknownKeyS3    = "The AWS Access Key Id you provided does not exist in our records."
	msgSkewS3          = "The difference between the request time and the current time is too large."
	msgPresignExpired  = "Request has expired"
	msgPresignNotYet   = "Request is not valid yet"
	msgExpiresTooLarge = "X-Amz-Expires must be less than a week (in seconds) that is 604800"
	msgExpiresNegative = "X-Amz-Expires must be non-negative"
	msgExpiresNumber   = "X-Amz-Expires should be a number"
	msgAlgorithm       = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
	msgHostUnsigned    = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	msgBothForms       = "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"
	msgQueryParams     = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
	msgContentSHA      = "Missing required header for this request: x-amz-content-sha256"
)

func newError(k Kind, msg string) *Error { return &Error{Kind: k, Message: msg} }

func malformed(msg string) *Error { return newError(Malformed, msg) }

func mismatchError(service string) *Error {
	if service == "s3" {
		return newError(Mismatch, msgMismatchS3)
	}
	return newError(Mismatch, msgMismatch)
}

func unknownKeyError(service string) *Error {
	if service == "s3" {
		return newError(UnknownKey, msgUnknownKeyS3)
	}
	return newError(UnknownKey, msgUnknownKey)
}

// skewError reports a header-signed request whose time t lies more than
// skew away from now, in the words AWS uses.
func skewError(service string, t, now time.Time, skew time.Duration) *Error {
	if service == "s3" {
		return newError(Expired, msgSkewS3)
	}
	mins := int64(skew / time.Minute)
	if t.Before(now) {
		return newError(Expired, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %d min.)",
			t.Format(timeFormat), now.Add(-skew).Format(timeFormat), now.Format(timeFormat), mins))
	}
	return newError(Expired, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %d min.)",
		t.Format(timeFormat), now.Add(skew).Format(timeFormat), now.Format(timeFormat), mins))
}

func missingParamsError(credential, signedHeaders, signature, date bool, header string) *Error {
	msg := ""
	if !credential {
		msg += "Authorization header requires 'Credential' parameter. "
	}
	if !signature {
		msg += "Authorization header requires 'Signature' parameter. "
	}
	if !signedHeaders {
		msg += "Authorization header requires 'SignedHeaders' parameter. "
	}
	if !date {
		msg += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
	}
	return malformed(msg + "Authorization=" + header)
}

func credentialError(cred string) *Error {
	return malformed("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" + cred + "'")
}

func terminatorError(term string) *Error {
	return malformed("Credential should be scoped with a valid terminator: 'aws4_request', not '" + term + "'.")
}

func dateFormatError(d string) *Error {
	return malformed("Date must be in ISO-8601 'basic format'. Got '" + d + "'. See http://en.wikipedia.org/wiki/ISO_8601")
}

func scopeDateError(scopeDate, amzDate string) *Error {
	day := amzDate
	if len(day) > 8 {
		day = day[:8]
	}
	return malformed("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
		scopeDate + "' != '" + day + "', from '" + amzDate + "'.")
}

func pairError(pair, header string) *Error {
	return malformed("'" + pair + "' not a valid key=value pair (missing equal-sign) in Authorization header: '" + header + "'.")
}

func absentHeaderError(name string) *Error {
	return malformed("'" + name + "' is named as a SignedHeader, but it does not exist in the HTTP request.")
}
