package client

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQS returns an SQS client for the server.
func (c *Client) SQS() *sqs.Client { return sqs.NewFromConfig(c.cfg) }

// SNS returns an SNS client for the server.
func (c *Client) SNS() *sns.Client { return sns.NewFromConfig(c.cfg) }

// QueueInfo is a queue with its approximate counts.
type QueueInfo struct {
	Name       string `json:"name"`
	URL        string `json:"url"`
	ARN        string `json:"arn"`
	Visible    int64  `json:"visible"`
	InFlight   int64  `json:"inFlight"`
	Delayed    int64  `json:"delayed"`
	DeadLetter string `json:"deadLetterQueue,omitempty"` // the name of its dead-letter queue
	MaxReceive int    `json:"maxReceiveCount,omitempty"`
}

// QueueURL returns the URL of queue name.
func (c *Client) QueueURL(ctx context.Context, name string) (string, error) {
	out, err := c.SQS().GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.QueueUrl), nil
}

// Queues lists every queue with its counts, by name.
func (c *Client) Queues(ctx context.Context) ([]QueueInfo, error) {
	q := c.SQS()
	out, err := q.ListQueues(ctx, &sqs.ListQueuesInput{})
	if err != nil {
		return nil, err
	}
	var list []QueueInfo
	for _, u := range out.QueueUrls {
		info, err := c.queueInfo(ctx, u)
		if err != nil {
			return nil, err
		}
		list = append(list, info)
	}
	return list, nil
}

func (c *Client) queueInfo(ctx context.Context, u string) (QueueInfo, error) {
	a, err := c.SQS().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(u), AttributeNames: []types.QueueAttributeName{"All"}})
	if err != nil {
		return QueueInfo{}, fmt.Errorf("attributes of %s: %w", u, err)
	}
	n := func(k string) int64 { v, _ := strconv.ParseInt(a.Attributes[k], 10, 64); return v }
	info := QueueInfo{Name: u[strings.LastIndexByte(u, '/')+1:], URL: u, ARN: a.Attributes["QueueArn"],
		Visible: n("ApproximateNumberOfMessages"), InFlight: n("ApproximateNumberOfMessagesNotVisible"), Delayed: n("ApproximateNumberOfMessagesDelayed")}
	if rp := a.Attributes["RedrivePolicy"]; rp != "" {
		_, rest, _ := strings.Cut(rp, `"deadLetterTargetArn":"`)
		arn, _, _ := strings.Cut(rest, `"`)
		info.DeadLetter = arn[strings.LastIndexByte(arn, ':')+1:]
		_, rest, _ = strings.Cut(rp, `"maxReceiveCount":`)
		info.MaxReceive, _ = strconv.Atoi(strings.Trim(strings.TrimRight(rest, "}"), `" `))
	}
	return info, nil
}

// QueueARN returns the ARN of queue name.
func (c *Client) QueueARN(ctx context.Context, name string) (string, error) {
	u, err := c.QueueURL(ctx, name)
	if err != nil {
		return "", err
	}
	info, err := c.queueInfo(ctx, u)
	if err != nil {
		return "", err
	}
	return info.ARN, nil
}
