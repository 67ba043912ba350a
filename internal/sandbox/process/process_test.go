package process

import (
	"testing"

	"github.com/aloft-dev/aloft/internal/sandbox/sandboxtest"
)

func TestConformance(t *testing.T) { sandboxtest.Run(t, &Driver{}) }
