//go:build !linux

package egress

import (
	"errors"
	"log/slog"
	"net/netip"
)

// Options configures a Host.
type Options struct {
	Allow  []netip.Prefix
	Logger *slog.Logger
}

// Host is unavailable outside Linux.
type Host struct{}

// Link is unavailable outside Linux.
type Link struct{}

// New reports that egress needs Linux.
func New(Options) (*Host, error) { return nil, errors.New("egress: only available on Linux") }

// Attach always fails outside Linux.
func (*Host) Attach(int) (*Link, error) { return nil, errors.New("egress: only available on Linux") }

// Close does nothing outside Linux.
func (*Link) Close() error { return nil }
