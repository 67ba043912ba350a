package catalog

import "github.com/aloft-dev/aloft/internal/fault"

func notFound(format string, args ...any) error {
	return fault.Errorf(fault.NotFound, format, args...)
}
