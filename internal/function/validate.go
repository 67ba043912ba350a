package function

import (
	"regexp"
	"slices"
	"strings"
)

// Runtimes lists the runtime identifiers Aloft accepts, in Lambda's spelling.
var Runtimes = []string{
	"provided", "provided.al2", "provided.al2023",
	"python3.8", "python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14",
	"nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x",
}

// Family is the kind of runtime an identifier names.
type Family string

// Runtime families.
const (
	Provided Family = "provided"
	Python   Family = "python"
	Node     Family = "nodejs"
)

// RuntimeFamily returns the family of a runtime identifier, or "" when Aloft
// does not support it.
func RuntimeFamily(runtime string) Family {
	if !slices.Contains(Runtimes, runtime) {
		return ""
	}
	switch {
	case strings.HasPrefix(runtime, "provided"):
		return Provided
	case strings.HasPrefix(runtime, "python"):
		return Python
	default:
		return Node
	}
}

var (
	envKeyRE  = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9_])+$`)
	handlerRE = regexp.MustCompile(`^[^\s]+$`)
)

// reservedEnv are environment variables Lambda does not let users set.
var reservedEnv = []string{
	"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
}

// ApplyDefaults fills the zero fields of c with Lambda's defaults.
func (c *Config) ApplyDefaults() {
	if c.MemorySize == 0 {
		c.MemorySize = DefaultMemory
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.EphemeralStorage.Size == 0 {
		c.EphemeralStorage.Size = DefaultEphemeral
	}
	if c.Version == "" {
		c.Version = LatestVersion
	}
	if c.PackageType == "" {
		c.PackageType = "Zip"
	}
	if len(c.Architectures) == 0 {
		c.Architectures = []string{"x86_64"}
	}
	if c.TracingConfig.Mode == "" {
		c.TracingConfig.Mode = TracingPassThrough
	}
	c.SnapStart = SnapStart{ApplyOn: "None", OptimizationStatus: "Off"}
	c.LoggingConfig = LoggingConfig{LogFormat: "Text", LogGroup: LogGroup(c.FunctionName)}
	c.State = "Active"
	c.LastUpdateStatus = "Successful"
}

// Validate checks c against Lambda's constraints and returns the first
// violation as an *Error.
func (c *Config) Validate() error {
	if !ValidName(c.FunctionName) {
		return Validation(c.FunctionName, "functionName",
			"Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
	}
	if c.Runtime == "" {
		return InvalidParameter("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
	}
	if RuntimeFamily(c.Runtime) == "" {
		return Validation(c.Runtime, "runtime", "Member must satisfy enum value set: ["+strings.Join(Runtimes, ", ")+"]")
	}
	if c.Handler == "" {
		return InvalidParameter("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
	}
	if len(c.Handler) > MaxHandler || !handlerRE.MatchString(c.Handler) {
		return Validation(c.Handler, "handler", "Member must satisfy regular expression pattern: [^\\s]+")
	}
	if c.MemorySize < MinMemory {
		return Validation(c.MemorySize, "memorySize", "Member must have value greater than or equal to 128")
	}
	if c.MemorySize > MaxMemory {
		return Validation(c.MemorySize, "memorySize", "Member must have value less than or equal to 10240")
	}
	if c.Timeout < MinTimeout {
		return Validation(c.Timeout, "timeout", "Member must have value greater than or equal to 1")
	}
	if c.Timeout > MaxTimeout {
		return InvalidParameter("Timeout value %d is out of range. Timeout must be between 1 and 900 seconds.", c.Timeout)
	}
	if s := c.EphemeralStorage.Size; s < MinEphemeral || s > MaxEphemeral {
		return Validation(s, "ephemeralStorage.size", "Member must have value between 512 and 10240")
	}
	if len(c.Description) > MaxDescription {
		return Validation(c.Description, "description", "Member must have length less than or equal to 256")
	}
	if len(c.Architectures) != 1 || (c.Architectures[0] != "x86_64" && c.Architectures[0] != "arm64") {
		return Validation(c.Architectures, "architectures", "Member must have length less than or equal to 1")
	}
	if err := ValidateTracingMode(c.TracingConfig.Mode); err != nil {
		return err
	}
	if d := c.DeadLetterConfig; d != nil && d.TargetArn != "" {
		if !ValidTarget(d.TargetArn) {
			return InvalidParameter("The dead-letter target %s is not supported by this server; use the ARN of a function, an SQS queue or an SNS topic.", d.TargetArn)
		}
	}
	if c.Environment != nil {
		size := 0
		for k, v := range c.Environment.Variables {
			if !envKeyRE.MatchString(k) {
				return Validation(k, "environment.variables", "Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+")
			}
			if slices.Contains(reservedEnv, k) || strings.HasPrefix(k, "AWS_LAMBDA_") {
				return InvalidParameter("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", k)
			}
			size += len(k) + len(v)
		}
		if size > MaxEnvBytes {
			return InvalidParameter("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %d", size)
		}
	}
	return nil
}

// ValidateTracingMode refuses a TracingConfig mode Lambda does not have.
func ValidateTracingMode(m string) error {
	if m != TracingActive && m != TracingPassThrough {
		return Validation(m, "tracingConfig.mode", "Member must satisfy enum value set: [Active, PassThrough]")
	}
	return nil
}
