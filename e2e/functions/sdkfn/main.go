// Command sdkfn is a test function that calls Aloft's Lambda API from
// inside a function with aws-sdk-go-v2 and no configuration of its own: the
// endpoint and credentials come from the environment the platform sets.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	lambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"
)

func handle(ctx context.Context) (map[string]any, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	c := lambdasvc.NewFromConfig(cfg)
	out, err := c.ListFunctions(ctx, &lambdasvc.ListFunctionsInput{})
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, f := range out.Functions {
		names = append(names, aws.ToString(f.FunctionName))
	}
	return map[string]any{"functions": names}, nil
}

func main() { lambda.Start(handle) }
