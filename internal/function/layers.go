package function

import "strings"

// Layer is one layer version a function uses, as its configuration
// reports it.
type Layer struct {
	Arn      string `json:"Arn"`
	CodeSize int64  `json:"CodeSize"`
}

// MaxLayers is how many layers a function may use.
const MaxLayers = 5

// LayerARN returns the ARN of the layer called name in region, and with
// a version above zero the ARN of that version.
func LayerARN(region, name string, version int64) string {
	a := "arn:aws:lambda:" + region + ":" + AccountID + ":layer:" + name
	if version > 0 {
		a += ":" + itoa(version)
	}
	return a
}

// ValidLayerName reports whether s is a valid bare layer name.
func ValidLayerName(s string) bool { return len(s) <= 140 && word(s) }

// ParseLayerVersionARN splits a layer version ARN
// (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION) into its region,
// name and version; ok is false when arn is not one.
func ParseLayerVersionARN(arn string) (region, name string, version int64, ok bool) {
	p := strings.Split(arn, ":")
	if len(p) != 8 || p[0] != "arn" || !strings.HasPrefix(p[1], "aws") || p[2] != "lambda" || p[3] == "" ||
		len(p[4]) != 12 || p[5] != "layer" || !ValidLayerName(p[6]) {
		return "", "", 0, false
	}
	v, ok := atoi(p[7])
	if !ok || v < 1 {
		return "", "", 0, false
	}
	return p[3], p[6], v, true
}

// ParseLayerARN splits a layer ARN without version
// (arn:aws:lambda:REGION:ACCOUNT:layer:NAME) or a bare layer name into
// its region ("" for a name) and name.
func ParseLayerARN(ref string) (region, name string, ok bool) {
	if !strings.HasPrefix(ref, "arn:") {
		return "", ref, ValidLayerName(ref)
	}
	p := strings.Split(ref, ":")
	if len(p) != 7 || !strings.HasPrefix(p[1], "aws") || p[2] != "lambda" || p[3] == "" || len(p[4]) != 12 || p[5] != "layer" || !ValidLayerName(p[6]) {
		return "", "", false
	}
	return p[3], p[6], true
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

func atoi(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
