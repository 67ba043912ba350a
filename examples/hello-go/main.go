// Command hello-go is an example function for the provided.al2023 runtime,
// written with aws-lambda-go. Build it as a Linux executable named
// bootstrap:
//
//	GOOS=linux CGO_ENABLED=0 go build -tags lambda.norpc -o build/bootstrap ./examples/hello-go
package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Name string `json:"name"`
}

type response struct {
	Message string `json:"message"`
	Count   int    `json:"count"`
}

// count lives as long as the instance: warm invocations see it grow.
var count int

func handle(ctx context.Context, req request) (response, error) {
	count++
	if req.Name == "" {
		req.Name = "world"
	}
	lc, _ := lambdacontext.FromContext(ctx)
	fmt.Printf("greeting %s (request %s)\n", req.Name, lc.AwsRequestID)
	return response{Message: "Hello, " + req.Name + "!", Count: count}, nil
}

func main() { lambda.Start(handle) }
