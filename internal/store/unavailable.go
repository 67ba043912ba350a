package store

import (
	"errors"
	"fmt"

	"github.com/aloft-dev/aloft/internal/fault"
)

// ErrUnavailable is the error, of kind fault.Unavailable, that a write a
// clustered store gave up on without an answer is wrapped in, alongside
// the backbone's own error: the cluster has no leader or no majority to
// take it now (a node that reaches no majority of its cluster, two nodes
// of three lost, say), and the same write may succeed later. The API
// packages answer it as their service's "unavailable" (a 503), not as an
// internal error. errors.Is(err, ErrUnavailable) tells it; errors.Is with
// the backbone's error (jetstream.ErrNoStreamResponse, say) still holds.
var ErrUnavailable error = unavailable{}

// unavailable is ErrUnavailable's type, which carries its kind.
type unavailable struct{}

// Error says why the write failed.
func (unavailable) Error() string {
	return "store: the cluster cannot take writes now (no leader or majority answered)"
}

// FaultKind returns fault.Unavailable.
func (unavailable) FaultKind() fault.Kind { return fault.Unavailable }

var _ fault.Kinded = unavailable{}

// Unavailable wraps err, a request's failure, in ErrUnavailable when
// the failure means that the cluster could not answer it (see
// Unanswered), and returns it as it is otherwise (or when it is wrapped
// already).
func Unavailable(err error) error {
	if err == nil || !Unanswered(err) || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
