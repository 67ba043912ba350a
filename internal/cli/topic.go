package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/spf13/cobra"
)

func (e *env) topicCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "topic",
		Aliases: []string{"topics"},
		Short:   "Create topics, subscribe queues, functions and URLs to them, and publish",
		Long: `Topics fan a message out to every subscriber whose filter policy it matches,
as Amazon SNS topics do: queues, functions (invoked asynchronously with the
SNS event) and HTTP or HTTPS endpoints (which confirm first). The AWS CLI
("aws sns") and the SDKs work with them too.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(e.topicCreateCmd(), e.topicListCmd(), e.topicSubscribeCmd(), e.topicSubscriptionsCmd(), e.topicUnsubscribeCmd(),
		e.topicPublishCmd(), e.topicDeleteCmd())
	return cmd
}

// topicARN finds topic name's ARN.
func (e *env) topicARN(cmd *cobra.Command, name string) (string, error) {
	if strings.HasPrefix(name, "arn:") {
		return name, nil
	}
	c, err := e.connect()
	if err != nil {
		return "", err
	}
	p := sns.NewListTopicsPaginator(c.SNS(), &sns.ListTopicsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(cmd.Context())
		if err != nil {
			return "", err
		}
		for _, t := range page.Topics {
			if a := aws.ToString(t.TopicArn); a[strings.LastIndexByte(a, ':')+1:] == name {
				return a, nil
			}
		}
	}
	return "", fmt.Errorf("topic %q not found", name)
}

func (e *env) topicCreateCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "create TOPIC",
		Short:   "Create a topic",
		Example: `  aloft topic create orders`,
		Args:    exactArgs("topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			out, err := c.SNS().CreateTopic(cmd.Context(), &sns.CreateTopicInput{Name: aws.String(args[0])})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "created topic %s\n%s\n", args[0], aws.ToString(out.TopicArn))
			return nil
		},
	}
}

func (e *env) topicListCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics with their subscriptions",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			type row struct {
				ARN       string `json:"arn"`
				Confirmed string `json:"subscriptionsConfirmed"`
				Pending   string `json:"subscriptionsPending"`
			}
			var rows []row
			p := sns.NewListTopicsPaginator(c.SNS(), &sns.ListTopicsInput{})
			for p.HasMorePages() {
				page, err := p.NextPage(cmd.Context())
				if err != nil {
					return err
				}
				for _, t := range page.Topics {
					a, err := c.SNS().GetTopicAttributes(cmd.Context(), &sns.GetTopicAttributesInput{TopicArn: t.TopicArn})
					if err != nil {
						return err
					}
					rows = append(rows, row{aws.ToString(t.TopicArn), a.Attributes["SubscriptionsConfirmed"], a.Attributes["SubscriptionsPending"]})
				}
			}
			if *out == outputJSON {
				b, _ := json.MarshalIndent(rows, "", "  ")
				_, err := fmt.Fprintf(e.stdout, "%s\n", b)
				return err
			}
			t := newTable(e.stdout, 3, 2, 3)
			t.AppendHeader(tableRow("TOPIC", "SUBSCRIPTIONS", "PENDING"))
			for _, r := range rows {
				t.AppendRow(tableRow(r.ARN[strings.LastIndexByte(r.ARN, ':')+1:], r.Confirmed, r.Pending))
			}
			t.Render()
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) topicSubscribeCmd() *cobra.Command {
	var queue, fn, url, filter string
	var raw, body bool
	cmd := &cobra.Command{
		Use:   "subscribe TOPIC (--queue QUEUE | --function FUNCTION | --url URL)",
		Short: "Subscribe a queue, a function or an HTTP(S) endpoint to a topic",
		Example: `  aloft topic subscribe orders --queue all-orders
  aloft topic subscribe orders --queue big-orders --filter '{"size": [{"numeric": [">", 100]}]}'
  aloft topic subscribe orders --function on-order`,
		Args: exactArgs("topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 0
			for _, v := range []string{queue, fn, url} {
				if v != "" {
					n++
				}
			}
			if n != 1 {
				return usageErrorf(cmd, "give exactly one of --queue, --function and --url")
			}
			arn, err := e.topicARN(cmd, args[0])
			if err != nil {
				return err
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			in := &sns.SubscribeInput{TopicArn: &arn, Attributes: map[string]string{}, ReturnSubscriptionArn: true}
			switch {
			case queue != "":
				qarn, err := c.QueueARN(cmd.Context(), queue)
				if err != nil {
					return queueError(err, queue)
				}
				in.Protocol, in.Endpoint = aws.String("sqs"), &qarn
			case fn != "":
				f, err := c.Lambda.GetFunction(cmd.Context(), &lambda.GetFunctionInput{FunctionName: &fn})
				if err != nil {
					return notFound(err, fn)
				}
				in.Protocol, in.Endpoint = aws.String("lambda"), f.Configuration.FunctionArn
			default:
				in.Protocol, in.Endpoint = aws.String(url[:strings.IndexByte(url+":", ':')]), &url
			}
			if filter != "" {
				in.Attributes["FilterPolicy"] = filter
				if body {
					in.Attributes["FilterPolicyScope"] = "MessageBody"
				}
			}
			if raw {
				in.Attributes["RawMessageDelivery"] = "true"
			}
			out, err := c.SNS().Subscribe(cmd.Context(), in)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "subscribed %s\n", aws.ToString(out.SubscriptionArn))
			return nil
		},
	}
	cmd.Flags().StringVar(&queue, "queue", "", "the queue to subscribe")
	cmd.Flags().StringVar(&fn, "function", "", "the function to subscribe")
	cmd.Flags().StringVar(&url, "url", "", "the HTTP or HTTPS endpoint to subscribe (it must confirm)")
	cmd.Flags().StringVar(&filter, "filter", "", "a filter policy (JSON) on the message attributes")
	cmd.Flags().BoolVar(&body, "filter-body", false, "apply the filter policy to the message body (a JSON object)")
	cmd.Flags().BoolVar(&raw, "raw", false, "deliver the message alone, not in SNS's JSON envelope (queues and URLs)")
	return cmd
}

func (e *env) topicSubscriptionsCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "subscriptions TOPIC",
		Short: "List a topic's subscriptions",
		Args:  exactArgs("topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			arn, err := e.topicARN(cmd, args[0])
			if err != nil {
				return err
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			var subs []snstypes.Subscription
			p := sns.NewListSubscriptionsByTopicPaginator(c.SNS(), &sns.ListSubscriptionsByTopicInput{TopicArn: &arn})
			for p.HasMorePages() {
				page, err := p.NextPage(cmd.Context())
				if err != nil {
					return err
				}
				subs = append(subs, page.Subscriptions...)
			}
			if *out == outputJSON {
				b, _ := json.MarshalIndent(subs, "", "  ")
				_, err := fmt.Fprintf(e.stdout, "%s\n", b)
				return err
			}
			t := newTable(e.stdout, 3)
			t.AppendHeader(tableRow("PROTOCOL", "ENDPOINT", "SUBSCRIPTION"))
			for _, s := range subs {
				t.AppendRow(tableRow(aws.ToString(s.Protocol), aws.ToString(s.Endpoint), aws.ToString(s.SubscriptionArn)))
			}
			t.Render()
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func (e *env) topicUnsubscribeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "unsubscribe SUBSCRIPTION-ARN",
		Short: "End a subscription",
		Args:  exactArgs("subscription ARN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			if _, err := c.SNS().Unsubscribe(cmd.Context(), &sns.UnsubscribeInput{SubscriptionArn: &args[0]}); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "unsubscribed %s\n", args[0])
			return nil
		},
	}
}

func (e *env) topicPublishCmd() *cobra.Command {
	var subject string
	var attrs []string
	cmd := &cobra.Command{
		Use:   "publish TOPIC [MESSAGE]",
		Short: "Publish a message (the argument, or standard input)",
		Example: `  aloft topic publish orders '{"id": 42}' --attribute size=500
  aloft topic publish orders "done" --subject "Nightly job"`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			msg := ""
			if len(args) == 2 {
				msg = args[1]
			} else {
				b, err := io.ReadAll(io.LimitReader(e.stdin, 256<<10+1))
				if err != nil {
					return err
				}
				msg = strings.TrimSuffix(string(b), "\n")
			}
			ma, err := messageAttributes(cmd, attrs)
			if err != nil {
				return err
			}
			arn, err := e.topicARN(cmd, args[0])
			if err != nil {
				return err
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			in := &sns.PublishInput{TopicArn: &arn, Message: &msg, MessageAttributes: map[string]snstypes.MessageAttributeValue{}}
			if subject != "" {
				in.Subject = &subject
			}
			for k, v := range ma {
				in.MessageAttributes[k] = snstypes.MessageAttributeValue{DataType: v.DataType, StringValue: v.StringValue}
			}
			out, err := c.SNS().Publish(cmd.Context(), in)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "published %s\n", aws.ToString(out.MessageId))
			return nil
		},
	}
	cmd.Flags().StringVar(&subject, "subject", "", "the message's subject")
	cmd.Flags().StringArrayVar(&attrs, "attribute", nil, "a message attribute NAME=VALUE (repeatable)")
	return cmd
}

func (e *env) topicDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete TOPIC",
		Aliases: []string{"rm"},
		Short:   "Delete a topic and its subscriptions",
		Args:    exactArgs("topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			arn, err := e.topicARN(cmd, args[0])
			if err != nil {
				return err
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			if _, err := c.SNS().DeleteTopic(cmd.Context(), &sns.DeleteTopicInput{TopicArn: &arn}); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "deleted topic %s\n", args[0])
			return nil
		},
	}
}
