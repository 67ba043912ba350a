package metrics

// units are CloudWatch's StandardUnit values; a datapoint's unit is kept
// as its index here, None (the last) when it names none.
var units = [...]string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
	"Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
	"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
	"Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}

const unitNone = uint8(len(units) - 1)

// unitIndex returns the index of unit u ("" is None); ok is false for a
// name that is not one of CloudWatch's units.
func unitIndex(u string) (uint8, bool) {
	if u == "" {
		return unitNone, true
	}
	for i, name := range units {
		if name == u {
			return uint8(i), true
		}
	}
	return 0, false
}

// ValidUnit reports whether u is one of CloudWatch's units (or empty).
func ValidUnit(u string) bool {
	_, ok := unitIndex(u)
	return ok
}
