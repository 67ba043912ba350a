package function

import (
	"github.com/aloft-dev/aloft/internal/awsproto"
	"strings"
)

// ValidName reports whether s is a valid bare function name.
func ValidName(s string) bool { return len(s) <= MaxNameLength && word(s) }

// word reports whether s is one or more of [a-zA-Z0-9_-]. (Not a regular
// expression: a counted repetition compiles into a program whose setup
// every start of the binary would pay, sandbox inits included.)
func word(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ARN returns the ARN of a function in region, with an optional qualifier.
func ARN(region, name, qualifier string) string {
	a := "arn:aws:lambda:" + region + ":" + AccountID + ":function:" + name
	if qualifier != "" {
		a += ":" + qualifier
	}
	return a
}

// DefaultRole is the execution role of functions created without one,
// which the server creates at its first start: it trusts Lambda and may
// write logs only.
const DefaultRole = "arn:aws:iam::" + AccountID + ":role/aloft"

// LogGroup returns the log group of a function.
func LogGroup(name string) string { return "/aws/lambda/" + name }

// ParseRef splits a function reference as the Lambda API accepts it (a name,
// "name:qualifier", "account:function:name[:qualifier]" or a full ARN) into
// the bare name and qualifier. ok is false when ref is malformed.
func ParseRef(ref string) (name, qualifier string, ok bool) {
	parts := strings.Split(ref, ":")
	switch {
	case len(parts) == 1:
		name = parts[0]
	case len(parts) == 2:
		name, qualifier = parts[0], parts[1]
	case parts[0] == "arn":
		if name, qualifier, ok = awsproto.LambdaFunction(ref); !ok {
			return "", "", false
		}
	case (len(parts) == 3 || len(parts) == 4) && parts[1] == "function":
		name = parts[2]
		if len(parts) == 4 {
			qualifier = parts[3]
		}
	default:
		return "", "", false
	}
	if !ValidName(name) {
		return "", "", false
	}
	if qualifier != "" && !validQualifier(qualifier) {
		return "", "", false
	}
	return name, qualifier, true
}

// validQualifier reports whether q is $LATEST or a version or alias name.
func validQualifier(q string) bool { return q == LatestVersion || len(q) <= 128 && word(q) }
