package cli

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"

	"github.com/aloft-dev/aloft/internal/client"
)

// Shell completion of resource names: the commands that take a function,
// bucket, schedule or route complete it from the server.

// completionTimeout bounds the server's answer: a shell must not hang.
const completionTimeout = 2 * time.Second

// completeFirst completes a command's first argument with names.
func completeFirst(names func(context.Context, *env) ([]string, error), e *env) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return e.complete(names, toComplete)
	}
}

// completeFlag completes a flag's value with names.
func completeFlag(names func(context.Context, *env) ([]string, error), e *env) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return e.complete(names, toComplete)
	}
}

func (e *env) complete(names func(context.Context, *env) ([]string, error), prefix string) ([]string, cobra.ShellCompDirective) {
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	all, err := names(ctx, e)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	var out []string
	for _, n := range all {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// functionNames lists the server's functions.
func functionNames(ctx context.Context, e *env) ([]string, error) {
	c, err := e.connect()
	if err != nil {
		return nil, err
	}
	var out []string
	p := lambda.NewListFunctionsPaginator(c.Lambda, &lambda.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, f := range page.Functions {
			out = append(out, aws.ToString(f.FunctionName))
		}
	}
	return out, nil
}

// queueNames lists the server's queues.
func queueNames(ctx context.Context, e *env) ([]string, error) {
	c, err := e.connect()
	if err != nil {
		return nil, err
	}
	out, err := c.SQS().ListQueues(ctx, &sqs.ListQueuesInput{})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out.QueueUrls))
	for _, u := range out.QueueUrls {
		names = append(names, u[strings.LastIndexByte(u, '/')+1:])
	}
	return names, nil
}

// tableNames lists the server's tables.
func tableNames(ctx context.Context, e *env) ([]string, error) {
	c, err := e.connect()
	if err != nil {
		return nil, err
	}
	var names []string
	p := dynamodb.NewListTablesPaginator(c.DynamoDB(), &dynamodb.ListTablesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		names = append(names, page.TableNames...)
	}
	return names, nil
}

// topicNames lists the server's topics.
func topicNames(ctx context.Context, e *env) ([]string, error) {
	c, err := e.connect()
	if err != nil {
		return nil, err
	}
	var names []string
	p := sns.NewListTopicsPaginator(c.SNS(), &sns.ListTopicsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Topics {
			a := aws.ToString(t.TopicArn)
			names = append(names, a[strings.LastIndexByte(a, ':')+1:])
		}
	}
	return names, nil
}

// bucketNames lists the server's buckets.
func bucketNames(ctx context.Context, e *env) ([]string, error) {
	c, err := e.connect()
	if err != nil {
		return nil, err
	}
	bs, err := c.ListBuckets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(bs))
	for _, b := range bs {
		out = append(out, aws.ToString(b.Name))
	}
	return out, nil
}

// scheduleNames lists the schedules of the default group.
func scheduleNames(ctx context.Context, e *env) ([]string, error) {
	c, err := e.connect()
	if err != nil {
		return nil, err
	}
	var out []string
	p := scheduler.NewListSchedulesPaginator(c.Scheduler, &scheduler.ListSchedulesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Schedules {
			out = append(out, aws.ToString(s.Name))
		}
	}
	return out, nil
}

// routeKeys lists the route keys of the default HTTP API.
func routeKeys(ctx context.Context, e *env) ([]string, error) {
	c, err := e.connect()
	if err != nil {
		return nil, err
	}
	rts, err := c.Routes(ctx, client.DefaultAPIName)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rts))
	for _, r := range rts {
		out = append(out, r.RouteKey)
	}
	return out, nil
}

// addCompletions wires the completions into the command tree.
func (e *env) addCompletions(root *cobra.Command) {
	byPath := map[string]func(context.Context, *env) ([]string, error){
		"aloft function update": functionNames, "aloft function get": functionNames, "aloft function delete": functionNames,
		"aloft invoke": functionNames, "aloft logs": functionNames, "aloft keepalive show": functionNames,
		"aloft bucket delete": bucketNames, "aloft schedule delete": scheduleNames, "aloft route delete": routeKeys,
		"aloft queue send": queueNames, "aloft queue receive": queueNames, "aloft queue purge": queueNames, "aloft queue delete": queueNames,
		"aloft table describe": tableNames, "aloft table delete": tableNames, "aloft table scan": tableNames, "aloft table get": tableNames, "aloft table put": tableNames,
		"aloft topic subscribe": topicNames, "aloft topic subscriptions": topicNames, "aloft topic publish": topicNames, "aloft topic delete": topicNames,
	}
	flags := map[string]string{"aloft route create": "function", "aloft schedule create": "function"}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if names, ok := byPath[c.CommandPath()]; ok {
			c.ValidArgsFunction = completeFirst(names, e)
		}
		if flag, ok := flags[c.CommandPath()]; ok {
			c.RegisterFlagCompletionFunc(flag, completeFlag(functionNames, e))
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
