package app

import (
	"slices"

	"github.com/aloft-dev/aloft/internal/cloudwatchapi"
	"github.com/aloft-dev/aloft/internal/dynamoapi"
	"github.com/aloft-dev/aloft/internal/gatewayapi"
	"github.com/aloft-dev/aloft/internal/iamapi"
	"github.com/aloft-dev/aloft/internal/lambdaapi"
	"github.com/aloft-dev/aloft/internal/logsapi"
	"github.com/aloft-dev/aloft/internal/s3api"
	"github.com/aloft-dev/aloft/internal/schedulerapi"
	"github.com/aloft-dev/aloft/internal/snsapi"
	"github.com/aloft-dev/aloft/internal/sqsapi"
)

// KnownActions returns every IAM action an operation of a service here
// asks for, sorted: what a policy's Action may name to mean something on
// this server. Function URLs ask for lambda:InvokeFunctionUrl.
func KnownActions() []string {
	var out []string
	out = append(out, lambdaapi.Actions()...)
	out = append(out, "lambda:InvokeFunctionUrl")
	out = append(out, logsapi.Actions()...)
	out = append(out, iamapi.Actions()...)
	out = append(out, schedulerapi.Actions...)
	out = append(out, gatewayapi.Actions...)
	out = append(out, s3api.Actions...)
	out = append(out, sqsapi.Actions()...)
	out = append(out, snsapi.IAMActions()...)
	out = append(out, dynamoapi.Actions()...)
	out = append(out, cloudwatchapi.IAMActions()...)
	slices.Sort(out)
	return slices.Compact(out)
}
