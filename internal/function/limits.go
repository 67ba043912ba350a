package function

import "github.com/aloft-dev/aloft/internal/awsproto"

// Limits Lambda enforces, which Aloft enforces the same way.
const (
	MinMemory          = 128
	MaxMemory          = 10240
	DefaultMemory      = 128
	MinTimeout         = 1
	MaxTimeout         = 900
	DefaultTimeout     = 3
	MinEphemeral       = 512
	MaxEphemeral       = 10240
	DefaultEphemeral   = 512
	MaxEnvBytes        = 4096
	MaxDescription     = 256
	MaxHandler         = 128
	MaxNameLength      = 64
	MaxZippedSize      = 52428800  // bytes of a zip uploaded directly
	MaxUnzippedSize    = 262144000 // bytes a function's code may expand to
	MaxCreateBody      = 70167211  // bytes of a CreateFunction/UpdateFunctionCode request
	MaxSyncPayload     = 6291456   // bytes of a synchronous Invoke request
	MaxResponsePayload = 6291556   // bytes of a function's response (6 MiB + 100)
	MaxAsyncPayload    = 1048576   // bytes of an asynchronous Invoke request
	AccountID          = awsproto.AccountID
	DefaultRegion      = awsproto.DefaultRegion
	LatestVersion      = "$LATEST"
)
