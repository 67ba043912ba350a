package function

import (
	"regexp"
	"strings"
)

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// ValidName reports whether s is a valid bare function name.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// ARN returns the ARN of a function in region, with an optional qualifier.
func ARN(region, name, qualifier string) string {
	a := "arn:aws:lambda:" + region + ":" + AccountID + ":function:" + name
	if qualifier != "" {
		a += ":" + qualifier
	}
	return a
}

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
	case len(parts) >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function":
		if len(parts) > 8 {
			return "", "", false
		}
		name = parts[6]
		if len(parts) == 8 {
			qualifier = parts[7]
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
	if qualifier != "" && !qualifierRE.MatchString(qualifier) {
		return "", "", false
	}
	return name, qualifier, true
}

var qualifierRE = regexp.MustCompile(`^(\$LATEST|[a-zA-Z0-9_-]{1,128})$`)
