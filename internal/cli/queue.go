package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/spf13/cobra"
)

func (e *env) queueCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "queue",
		Aliases: []string{"queues"},
		Short:   "Create, list, send to, receive from and purge message queues",
		Long: `Queues buffer messages between producers and consumers, as Amazon SQS queues
do; the AWS CLI ("aws sqs") and the SDKs work with them too. A function
reads a queue through an event source mapping ("aws lambda
create-event-source-mapping"); a queue's dead-letter queue keeps what was
received too often.

(The queue of asynchronous invocations is "aloft async stats".)`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(e.queueCreateCmd(), e.queueListCmd(), e.queueSendCmd(), e.queueReceiveCmd(), e.queuePurgeCmd(), e.queueDeleteCmd())
	return cmd
}

// queueError rewrites the SQS errors about queue name into short messages.
func queueError(err error, name string) error {
	switch apiCode(err) {
	case "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist":
		return fmt.Errorf("queue %q not found", name)
	case "QueueAlreadyExists", "QueueNameExists":
		return fmt.Errorf("queue %q already exists with other attributes", name)
	case "AWS.SimpleQueueService.PurgeQueueInProgress", "PurgeQueueInProgress":
		return fmt.Errorf("queue %q was purged less than a minute ago", name)
	}
	return err
}

func (e *env) queueCreateCmd() *cobra.Command {
	var visibility, delay, retention, maxReceives int
	var dlq string
	cmd := &cobra.Command{
		Use:   "create QUEUE",
		Short: "Create a queue",
		Example: `  aloft queue create orders
  aloft queue create orders-dlq
  aloft queue create orders --visibility-timeout 60 --dead-letter-queue orders-dlq --max-receives 5`,
		Args: exactArgs("queue name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			attrs := map[string]string{}
			set := func(flag, attr string, v int) {
				if cmd.Flags().Changed(flag) {
					attrs[attr] = strconv.Itoa(v)
				}
			}
			set("visibility-timeout", "VisibilityTimeout", visibility)
			set("delay", "DelaySeconds", delay)
			set("retention", "MessageRetentionPeriod", retention)
			if dlq != "" {
				arn, err := c.QueueARN(cmd.Context(), dlq)
				if err != nil {
					return queueError(err, dlq)
				}
				b, _ := json.Marshal(map[string]any{"deadLetterTargetArn": arn, "maxReceiveCount": maxReceives})
				attrs["RedrivePolicy"] = string(b)
			} else if cmd.Flags().Changed("max-receives") {
				return usageErrorf(cmd, "--max-receives needs --dead-letter-queue")
			}
			out, err := c.SQS().CreateQueue(cmd.Context(), &sqs.CreateQueueInput{QueueName: aws.String(args[0]), Attributes: attrs})
			if err != nil {
				return queueError(err, args[0])
			}
			fmt.Fprintf(e.stdout, "created queue %s\n%s\n", args[0], aws.ToString(out.QueueUrl))
			return nil
		},
	}
	cmd.Flags().IntVar(&visibility, "visibility-timeout", 30, "seconds a received message stays hidden")
	cmd.Flags().IntVar(&delay, "delay", 0, "seconds every new message waits before it can be received")
	cmd.Flags().IntVar(&retention, "retention", 345600, "seconds a message is kept")
	cmd.Flags().StringVar(&dlq, "dead-letter-queue", "", "the queue that gets messages received too often")
	cmd.Flags().IntVar(&maxReceives, "max-receives", 10, "receives before a message moves to the dead-letter queue")
	return cmd
}

func (e *env) queueListCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List queues with their messages waiting, in flight and delayed",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			list, err := c.Queues(cmd.Context())
			if err != nil {
				return err
			}
			if *out == outputJSON {
				b, _ := json.MarshalIndent(list, "", "  ")
				_, err := fmt.Fprintf(e.stdout, "%s\n", b)
				return err
			}
			t := newTable(e.stdout, 5, 2, 3, 4)
			t.AppendHeader(tableRow("QUEUE", "WAITING", "IN FLIGHT", "DELAYED", "DEAD-LETTER QUEUE"))
			for _, q := range list {
				dl := ""
				if q.DeadLetter != "" {
					dl = fmt.Sprintf("%s (after %d receives)", q.DeadLetter, q.MaxReceive)
				}
				t.AppendRow(tableRow(q.Name, groupDigits(q.Visible), groupDigits(q.InFlight), groupDigits(q.Delayed), dl))
			}
			t.Render()
			return nil
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

// messageAttributes reads --attribute NAME=VALUE flags: numbers become
// Number attributes, the rest String.
func messageAttributes(cmd *cobra.Command, pairs []string) (map[string]types.MessageAttributeValue, error) {
	out := map[string]types.MessageAttributeValue{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usageErrorf(cmd, "--attribute %q is not NAME=VALUE", p)
		}
		typ := "String"
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			typ = "Number"
		}
		out[k] = types.MessageAttributeValue{DataType: aws.String(typ), StringValue: aws.String(v)}
	}
	return out, nil
}

func (e *env) queueSendCmd() *cobra.Command {
	var delay int
	var attrs []string
	cmd := &cobra.Command{
		Use:   "send QUEUE [MESSAGE]",
		Short: "Send a message (the argument, or standard input)",
		Example: `  aloft queue send orders '{"id": 42}'
  echo hello | aloft queue send orders --attribute kind=greeting`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := ""
			if len(args) == 2 {
				body = args[1]
			} else {
				b, err := io.ReadAll(io.LimitReader(e.stdin, 1<<20+1))
				if err != nil {
					return err
				}
				body = strings.TrimSuffix(string(b), "\n")
			}
			ma, err := messageAttributes(cmd, attrs)
			if err != nil {
				return err
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			u, err := c.QueueURL(cmd.Context(), args[0])
			if err != nil {
				return queueError(err, args[0])
			}
			in := &sqs.SendMessageInput{QueueUrl: &u, MessageBody: &body, MessageAttributes: ma}
			if cmd.Flags().Changed("delay") {
				in.DelaySeconds = int32(delay)
			}
			out, err := c.SQS().SendMessage(cmd.Context(), in)
			if err != nil {
				return queueError(err, args[0])
			}
			fmt.Fprintf(e.stdout, "sent %s\n", aws.ToString(out.MessageId))
			return nil
		},
	}
	cmd.Flags().IntVar(&delay, "delay", 0, "seconds before the message can be received")
	cmd.Flags().StringArrayVar(&attrs, "attribute", nil, "a message attribute NAME=VALUE (repeatable)")
	return cmd
}

func (e *env) queueReceiveCmd() *cobra.Command {
	var max, wait int
	var keep bool
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "receive QUEUE",
		Short: "Receive messages and delete them (with --keep, look at them and leave them)",
		Long: `Receive up to --max messages, waiting up to --wait seconds for the first, print
them and delete them. With --keep they stay on the queue, visible again at
once: a way to look at a dead-letter queue. Each look counts as a receive
(ApproximateReceiveCount), as it does on SQS.`,
		Example: `  aloft queue receive orders
  aloft queue receive orders-dlq --keep --max 10`,
		Args: exactArgs("queue name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			u, err := c.QueueURL(cmd.Context(), args[0])
			if err != nil {
				return queueError(err, args[0])
			}
			in := &sqs.ReceiveMessageInput{QueueUrl: &u, MaxNumberOfMessages: int32(max), WaitTimeSeconds: int32(wait),
				MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}}
			r, err := c.SQS().ReceiveMessage(cmd.Context(), in)
			if err != nil {
				return queueError(err, args[0])
			}
			if err := e.settle(cmd.Context(), c.SQS(), u, r.Messages, keep); err != nil {
				return err
			}
			if *out == outputJSON {
				b, _ := json.MarshalIndent(r.Messages, "", "  ")
				_, err := fmt.Fprintf(e.stdout, "%s\n", b)
				return err
			}
			if len(r.Messages) == 0 {
				fmt.Fprintln(e.stderr, "no messages")
				return nil
			}
			t := newTable(e.stdout, 4, 3)
			t.AppendHeader(tableRow("MESSAGE ID", "SENT", "RECEIVES", "BODY"))
			for _, m := range r.Messages {
				sent := ""
				if ms, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64); err == nil {
					sent = time.UnixMilli(ms).UTC().Format(time.RFC3339)
				}
				t.AppendRow(tableRow(aws.ToString(m.MessageId), sent, m.Attributes["ApproximateReceiveCount"], aws.ToString(m.Body)))
			}
			t.Render()
			return nil
		},
	}
	cmd.Flags().IntVar(&max, "max", 1, "how many messages to receive, 1 to 10")
	cmd.Flags().IntVar(&wait, "wait", 1, "seconds to wait for a message, 0 to 20")
	cmd.Flags().BoolVar(&keep, "keep", false, "leave the messages on the queue, visible again at once")
	out = addOutputFlag(cmd)
	return cmd
}

// settle deletes received messages, or with keep makes them visible
// again at once.
func (e *env) settle(ctx context.Context, c *sqs.Client, u string, msgs []types.Message, keep bool) error {
	for _, m := range msgs {
		var err error
		if keep {
			_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &u, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		} else {
			_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &u, ReceiptHandle: m.ReceiptHandle})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (e *env) queuePurgeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "purge QUEUE",
		Short: "Delete every message of a queue (at most once a minute)",
		Args:  exactArgs("queue name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			u, err := c.QueueURL(cmd.Context(), args[0])
			if err != nil {
				return queueError(err, args[0])
			}
			if _, err := c.SQS().PurgeQueue(cmd.Context(), &sqs.PurgeQueueInput{QueueUrl: &u}); err != nil {
				return queueError(err, args[0])
			}
			fmt.Fprintf(e.stdout, "purged queue %s\n", args[0])
			return nil
		},
	}
}

func (e *env) queueDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete QUEUE",
		Aliases: []string{"rm"},
		Short:   "Delete a queue and its messages",
		Args:    exactArgs("queue name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			u, err := c.QueueURL(cmd.Context(), args[0])
			if err != nil {
				return queueError(err, args[0])
			}
			if _, err := c.SQS().DeleteQueue(cmd.Context(), &sqs.DeleteQueueInput{QueueUrl: &u}); err != nil {
				return queueError(err, args[0])
			}
			fmt.Fprintf(e.stdout, "deleted queue %s\n", args[0])
			return nil
		},
	}
}
