package sqsapi

import (
	"context"
	"net/http"
	"regexp"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/queues"
)

// routes adds every operation to both protocols.
func (s *Server) routes() {
	op(s, "CreateQueue", s.createQueue, func(o *queueURLOut) any { return o })
	op(s, "GetQueueUrl", s.getQueueURL, func(o *queueURLOut) any { return o })
	op(s, "ListQueues", s.listQueues, listQueuesXML)
	op(s, "DeleteQueue", s.deleteQueue, nil)
	op(s, "GetQueueAttributes", s.getQueueAttributes, func(o *attributesOut) any { return attributesXML(o.Attributes) })
	op(s, "SetQueueAttributes", s.setQueueAttributes, nil)
	op(s, "SendMessage", s.sendMessage, func(o *sendOut) any { return o })
	op(s, "SendMessageBatch", s.sendMessageBatch, sendBatchXML)
	op(s, "ReceiveMessage", s.receiveMessage, receiveXML)
	op(s, "DeleteMessage", s.deleteMessage, nil)
	op(s, "DeleteMessageBatch", s.deleteMessageBatch, func(o *batchOut) any { return batchXML("DeleteMessageBatchResultEntry", o) })
	op(s, "ChangeMessageVisibility", s.changeVisibility, nil)
	op(s, "ChangeMessageVisibilityBatch", s.changeVisibilityBatch, func(o *batchOut) any { return batchXML("ChangeMessageVisibilityBatchResultEntry", o) })
	op(s, "PurgeQueue", s.purgeQueue, nil)
	op(s, "TagQueue", s.tagQueue, nil)
	op(s, "UntagQueue", s.untagQueue, nil)
	op(s, "ListQueueTags", s.listQueueTags, func(o *tagsOut) any { return tagsXML(o.Tags) })
	op(s, "StartMessageMoveTask", s.startMoveTask, func(o *moveTaskOut) any { return o })
	op(s, "CancelMessageMoveTask", s.cancelMoveTask, func(o *cancelOut) any { return o })
	op(s, "ListMessageMoveTasks", s.listMoveTasks, func(o *listTasksOut) any {
		return &struct {
			Results []moveTaskEntry `xml:"ListMessageMoveTasksResultEntry"`
		}{o.Results}
	})
	op(s, "ListDeadLetterSourceQueues", s.listDeadLetterSources, func(o *sourcesOut) any {
		return listQueuesXML(&listQueuesOut{QueueUrls: o.QueueUrls, NextToken: o.NextToken})
	})
}

type empty struct{}

type queueIn struct {
	QueueURL string `json:"QueueUrl"`
}

type queueURLOut struct {
	QueueURL string `json:"QueueUrl" xml:"QueueUrl"`
}

type createQueueIn struct {
	QueueName  string            `json:"QueueName"`
	Attributes map[string]string `json:"Attributes"`
	Tags       map[string]string `json:"tags"`
}

func (s *Server) createQueue(ctx context.Context, in *createQueueIn) (*queueURLOut, error) {
	if in.QueueName == "" {
		return nil, missing("QueueName")
	}
	q, err := s.q.Create(ctx, in.QueueName, info(ctx).region, in.Attributes, in.Tags)
	if err != nil {
		return nil, err
	}
	return &queueURLOut{queueURL(ctx, q.Name)}, nil
}

type getQueueURLIn struct {
	QueueName string `json:"QueueName"`
	Owner     string `json:"QueueOwnerAWSAccountId"`
}

func (s *Server) getQueueURL(ctx context.Context, in *getQueueURLIn) (*queueURLOut, error) {
	if in.QueueName == "" {
		return nil, missing("QueueName")
	}
	if in.Owner != "" && in.Owner != awsproto.AccountID {
		return nil, &queues.Error{Kind: fault.Invalid, Code: queues.QueueDoesNotExist, Message: "The specified queue does not exist."}
	}
	q, err := s.q.Get(in.QueueName)
	if err != nil {
		return nil, err
	}
	return &queueURLOut{queueURL(ctx, q.Name)}, nil
}

type listQueuesIn struct {
	Prefix     string `json:"QueueNamePrefix"`
	NextToken  string `json:"NextToken"`
	MaxResults *int   `json:"MaxResults"`
}

type listQueuesOut struct {
	QueueUrls []string `json:"QueueUrls,omitempty"`
	NextToken string   `json:"NextToken,omitempty"`
}

func (s *Server) listQueues(ctx context.Context, in *listQueuesIn) (*listQueuesOut, error) {
	return page(ctx, s.q.List(in.Prefix), in.NextToken, in.MaxResults)
}

// page cuts a page of queue URLs: all of them (up to SQS's 1,000)
// without MaxResults.
func page(ctx context.Context, qs []*queues.Queue, token string, max *int) (*listQueuesOut, error) {
	limit := 1000
	if max != nil {
		if *max < 1 || *max > 1000 {
			return nil, invalidParam("Value %d for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.", *max)
		}
		limit = *max
	} else if token != "" {
		return nil, invalidParam("MaxResults is required when NextToken is given.")
	}
	pg, next, ok := awsproto.Page(qs, func(q *queues.Queue) string { return q.Name }, token, limit)
	if !ok {
		return nil, invalidParam("Invalid NextToken value.")
	}
	out := &listQueuesOut{NextToken: next}
	if max == nil {
		out.NextToken = ""
	}
	for _, q := range pg {
		out.QueueUrls = append(out.QueueUrls, queueURL(ctx, q.Name))
	}
	return out, nil
}

func (s *Server) deleteQueue(ctx context.Context, in *queueIn) (*empty, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	return &empty{}, s.q.Delete(ctx, name)
}

type getAttributesIn struct {
	QueueURL       string   `json:"QueueUrl"`
	AttributeNames []string `json:"AttributeNames"`
}

type attributesOut struct {
	Attributes map[string]string `json:"Attributes,omitempty"`
}

func (s *Server) getQueueAttributes(ctx context.Context, in *getAttributesIn) (*attributesOut, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	attrs, err := s.q.Attributes(ctx, name, in.AttributeNames)
	if err != nil {
		return nil, err
	}
	return &attributesOut{attrs}, nil
}

type setAttributesIn struct {
	QueueURL   string            `json:"QueueUrl"`
	Attributes map[string]string `json:"Attributes"`
}

func (s *Server) setQueueAttributes(ctx context.Context, in *setAttributesIn) (*empty, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	if len(in.Attributes) == 0 {
		return nil, missing("Attributes")
	}
	return &empty{}, s.q.SetAttributes(ctx, name, in.Attributes)
}

// message is a message to send, as SendMessage and a batch entry carry
// it.
type message struct {
	MessageBody             string                      `json:"MessageBody"`
	DelaySeconds            *int                        `json:"DelaySeconds"`
	MessageAttributes       map[string]queues.Attribute `json:"MessageAttributes"`
	MessageSystemAttributes map[string]queues.Attribute `json:"MessageSystemAttributes"`
	MessageDeduplicationID  string                      `json:"MessageDeduplicationId"`
	MessageGroupID          string                      `json:"MessageGroupId"`
}

func (m *message) toQueue(ctx context.Context) (*queues.Message, error) {
	out := &queues.Message{Body: m.MessageBody, Delay: -1, Attributes: m.MessageAttributes, System: m.MessageSystemAttributes, Sender: sender(ctx),
		GroupID: m.MessageGroupID, DedupID: m.MessageDeduplicationID}
	if m.DelaySeconds != nil {
		if *m.DelaySeconds < 0 || *m.DelaySeconds > 900 {
			return nil, invalidParam("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", *m.DelaySeconds)
		}
		out.Delay = *m.DelaySeconds
	}
	return out, nil
}

// sender is SenderId for the signer of the request in ctx: the account
// for the root, the user's id, or the role's id and session.
func sender(ctx context.Context) string {
	if p := edge.Principal(ctx); p != nil {
		return p.UserID
	}
	return awsproto.AccountID
}

type sendIn struct {
	QueueURL string `json:"QueueUrl"`
	message
}

type sendOut struct {
	MD5OfMessageBody             string `json:"MD5OfMessageBody" xml:"MD5OfMessageBody"`
	MD5OfMessageAttributes       string `json:"MD5OfMessageAttributes,omitempty" xml:"MD5OfMessageAttributes,omitempty"`
	MD5OfMessageSystemAttributes string `json:"MD5OfMessageSystemAttributes,omitempty" xml:"MD5OfMessageSystemAttributes,omitempty"`
	MessageID                    string `json:"MessageId" xml:"MessageId"`
	SequenceNumber               string `json:"SequenceNumber,omitempty" xml:"SequenceNumber,omitempty"`
}

func (s *Server) sendMessage(ctx context.Context, in *sendIn) (*sendOut, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	m, err := in.toQueue(ctx)
	if err != nil {
		return nil, err
	}
	sent, errs, err := s.q.Send(ctx, name, []*queues.Message{m})
	if err != nil {
		return nil, err
	}
	if errs[0] != nil {
		return nil, errs[0]
	}
	return &sendOut{sent[0].MD5Body, sent[0].MD5Attributes, sent[0].MD5System, sent[0].ID, sent[0].Sequence}, nil
}

type sendBatchIn struct {
	QueueURL string `json:"QueueUrl"`
	Entries  []struct {
		ID string `json:"Id"`
		message
	} `json:"Entries"`
}

type sendResult struct {
	ID string `json:"Id" xml:"Id"`
	sendOut
}

type failure struct {
	ID          string `json:"Id" xml:"Id"`
	SenderFault bool   `json:"SenderFault" xml:"SenderFault"`
	Code        string `json:"Code" xml:"Code"`
	Message     string `json:"Message,omitempty" xml:"Message,omitempty"`
}

type sendBatchOut struct {
	Successful []sendResult `json:"Successful"`
	Failed     []failure    `json:"Failed"`
}

// checkEntries checks a batch's entry ids: one to ten, distinct, each
// of SQS's form.
func checkEntries(ids []string) error {
	if len(ids) == 0 {
		return &queues.Error{Kind: fault.Invalid, Code: queues.EmptyBatchRequest, Message: "There should be at least one entry in the request."}
	}
	if len(ids) > 10 {
		return &queues.Error{Kind: fault.Invalid, Code: queues.TooManyEntriesInBatchRequest, Message: "Maximum number of entries per request are 10. You have sent " + itoa(len(ids)) + "."}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !entryID.MatchString(id) {
			return &queues.Error{Kind: fault.Invalid, Code: queues.InvalidBatchEntryID, Message: "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."}
		}
		if seen[id] {
			return &queues.Error{Kind: fault.Invalid, Code: queues.BatchEntryIdsNotDistinct, Message: "Id " + id + " repeated."}
		}
		seen[id] = true
	}
	return nil
}

var entryID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func (s *Server) sendMessageBatch(ctx context.Context, in *sendBatchIn) (*sendBatchOut, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	size := 0
	for i, e := range in.Entries {
		ids[i] = e.ID
		size += len(e.MessageBody)
		for k, a := range e.MessageAttributes {
			size += len(k) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
		}
	}
	if err := checkEntries(ids); err != nil {
		return nil, err
	}
	if size > 1<<20 {
		return nil, &queues.Error{Kind: fault.Invalid, Code: queues.BatchRequestTooLong, Message: "Batch requests cannot be longer than 1048576 bytes. You have sent " + itoa(size) + " bytes."}
	}
	out := &sendBatchOut{Successful: []sendResult{}, Failed: []failure{}}
	var msgs []*queues.Message
	var idx []int
	for i, e := range in.Entries {
		m, err := e.toQueue(ctx)
		if err != nil {
			out.Failed = append(out.Failed, failed(e.ID, err))
			continue
		}
		msgs = append(msgs, m)
		idx = append(idx, i)
	}
	sent, errs, err := s.q.Send(ctx, name, msgs)
	if err != nil {
		return nil, err
	}
	for j, i := range idx {
		if errs[j] != nil {
			out.Failed = append(out.Failed, failed(in.Entries[i].ID, errs[j]))
			continue
		}
		out.Successful = append(out.Successful, sendResult{in.Entries[i].ID, sendOut{sent[j].MD5Body, sent[j].MD5Attributes, sent[j].MD5System, sent[j].ID, sent[j].Sequence}})
	}
	return out, nil
}

// failed is a batch entry's failure: the sender's fault for a refusal,
// the server's otherwise; a write the cluster cannot take now is
// ServiceUnavailable (awsproto.Unavailable), which the sender may send
// again, and any other failure of the server's InternalError.
func failed(id string, err error) failure {
	w := wireError(err)
	if w == nil {
		w = awsproto.Unavailable(awsproto.JSON10Query, err)
	}
	if w != nil {
		return failure{ID: id, SenderFault: w.Status < 500, Code: w.Code, Message: w.Message}
	}
	return failure{ID: id, SenderFault: false, Code: "InternalError", Message: "The message could not be stored."}
}

type receiveIn struct {
	QueueURL                    string   `json:"QueueUrl"`
	AttributeNames              []string `json:"AttributeNames"`
	MessageSystemAttributeNames []string `json:"MessageSystemAttributeNames"`
	MessageAttributeNames       []string `json:"MessageAttributeNames"`
	MaxNumberOfMessages         *int     `json:"MaxNumberOfMessages"`
	VisibilityTimeout           *int     `json:"VisibilityTimeout"`
	WaitTimeSeconds             *int     `json:"WaitTimeSeconds"`
	ReceiveRequestAttemptID     string   `json:"ReceiveRequestAttemptId"`
}

type receivedMessage struct {
	MessageID              string                      `json:"MessageId"`
	ReceiptHandle          string                      `json:"ReceiptHandle"`
	MD5OfBody              string                      `json:"MD5OfBody"`
	Body                   string                      `json:"Body"`
	Attributes             map[string]string           `json:"Attributes,omitempty"`
	MD5OfMessageAttributes string                      `json:"MD5OfMessageAttributes,omitempty"`
	MessageAttributes      map[string]queues.Attribute `json:"MessageAttributes,omitempty"`
}

type receiveOut struct {
	Messages []receivedMessage `json:"Messages,omitempty"`
}

func (s *Server) receiveMessage(ctx context.Context, in *receiveIn) (*receiveOut, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	o := queues.ReceiveOptions{Visibility: -1, Wait: -1, AttributeNames: in.MessageAttributeNames, AttemptID: in.ReceiveRequestAttemptID,
		SystemNames: append(append([]string{}, in.AttributeNames...), in.MessageSystemAttributeNames...)}
	if in.MaxNumberOfMessages != nil {
		o.Max = *in.MaxNumberOfMessages
		if o.Max < 1 {
			return nil, invalidParam("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", o.Max)
		}
	}
	if in.VisibilityTimeout != nil {
		if *in.VisibilityTimeout < 0 {
			return nil, invalidParam("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.", *in.VisibilityTimeout)
		}
		o.Visibility = *in.VisibilityTimeout
	}
	if in.WaitTimeSeconds != nil {
		if *in.WaitTimeSeconds < 0 {
			return nil, invalidParam("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *in.WaitTimeSeconds)
		}
		o.Wait = *in.WaitTimeSeconds
	}
	got, err := s.q.Receive(ctx, name, o)
	if err != nil {
		return nil, err
	}
	out := &receiveOut{}
	for _, m := range got {
		out.Messages = append(out.Messages, receivedMessage{MessageID: m.ID, ReceiptHandle: m.Handle, MD5OfBody: m.MD5Body, Body: m.Body,
			Attributes: m.System, MD5OfMessageAttributes: m.MD5Attributes, MessageAttributes: m.Attributes})
	}
	return out, nil
}

type handleIn struct {
	QueueURL      string `json:"QueueUrl"`
	ReceiptHandle string `json:"ReceiptHandle"`
}

func (s *Server) deleteMessage(ctx context.Context, in *handleIn) (*empty, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	if in.ReceiptHandle == "" {
		return nil, missing("ReceiptHandle")
	}
	return &empty{}, s.q.DeleteMessage(ctx, name, in.ReceiptHandle)
}

type batchResult struct {
	ID string `json:"Id" xml:"Id"`
}

type batchOut struct {
	Successful []batchResult `json:"Successful"`
	Failed     []failure     `json:"Failed"`
}

type handleBatchIn struct {
	QueueURL string `json:"QueueUrl"`
	Entries  []struct {
		ID                string `json:"Id"`
		ReceiptHandle     string `json:"ReceiptHandle"`
		VisibilityTimeout *int   `json:"VisibilityTimeout"`
	} `json:"Entries"`
}

// eachEntry runs fn on every entry of a batch of receipt handles,
// reporting each entry's outcome.
func (s *Server) eachEntry(ctx context.Context, in *handleBatchIn, fn func(name string, handle string, vis *int) error) (*batchOut, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.ID
	}
	if err := checkEntries(ids); err != nil {
		return nil, err
	}
	if _, err := s.q.Get(name); err != nil {
		return nil, err
	}
	out := &batchOut{Successful: []batchResult{}, Failed: []failure{}}
	for _, e := range in.Entries {
		if err := fn(name, e.ReceiptHandle, e.VisibilityTimeout); err != nil {
			out.Failed = append(out.Failed, failed(e.ID, err))
			continue
		}
		out.Successful = append(out.Successful, batchResult{e.ID})
	}
	return out, nil
}

func (s *Server) deleteMessageBatch(ctx context.Context, in *handleBatchIn) (*batchOut, error) {
	return s.eachEntry(ctx, in, func(name, handle string, _ *int) error {
		return s.q.DeleteMessage(ctx, name, handle)
	})
}

type visibilityIn struct {
	QueueURL          string `json:"QueueUrl"`
	ReceiptHandle     string `json:"ReceiptHandle"`
	VisibilityTimeout *int   `json:"VisibilityTimeout"`
}

func (s *Server) changeVisibility(ctx context.Context, in *visibilityIn) (*empty, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	if in.ReceiptHandle == "" {
		return nil, missing("ReceiptHandle")
	}
	if in.VisibilityTimeout == nil {
		return nil, missing("VisibilityTimeout")
	}
	return &empty{}, s.q.ChangeVisibility(ctx, name, in.ReceiptHandle, *in.VisibilityTimeout)
}

func (s *Server) changeVisibilityBatch(ctx context.Context, in *handleBatchIn) (*batchOut, error) {
	return s.eachEntry(ctx, in, func(name, handle string, vis *int) error {
		if vis == nil {
			return missing("VisibilityTimeout")
		}
		return s.q.ChangeVisibility(ctx, name, handle, *vis)
	})
}

func (s *Server) purgeQueue(ctx context.Context, in *queueIn) (*empty, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	return &empty{}, s.q.Purge(ctx, name)
}

type tagIn struct {
	QueueURL string            `json:"QueueUrl"`
	Tags     map[string]string `json:"Tags"`
}

func (s *Server) tagQueue(ctx context.Context, in *tagIn) (*empty, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, missing("Tags")
	}
	return &empty{}, s.q.Tag(ctx, name, in.Tags)
}

type untagIn struct {
	QueueURL string   `json:"QueueUrl"`
	TagKeys  []string `json:"TagKeys"`
}

func (s *Server) untagQueue(ctx context.Context, in *untagIn) (*empty, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	if len(in.TagKeys) == 0 {
		return nil, missing("TagKeys")
	}
	return &empty{}, s.q.Untag(ctx, name, in.TagKeys)
}

type tagsOut struct {
	Tags map[string]string `json:"Tags,omitempty"`
}

func (s *Server) listQueueTags(ctx context.Context, in *queueIn) (*tagsOut, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	q, err := s.q.Get(name)
	if err != nil {
		return nil, err
	}
	return &tagsOut{q.Tags}, nil
}

type sourcesIn struct {
	QueueURL   string `json:"QueueUrl"`
	NextToken  string `json:"NextToken"`
	MaxResults *int   `json:"MaxResults"`
}

type sourcesOut struct {
	QueueUrls []string `json:"queueUrls"`
	NextToken string   `json:"NextToken,omitempty"`
}

func (s *Server) listDeadLetterSources(ctx context.Context, in *sourcesIn) (*sourcesOut, error) {
	name, err := queueName(ctx, in.QueueURL)
	if err != nil {
		return nil, err
	}
	qs, err := s.q.DeadLetterSources(name)
	if err != nil {
		return nil, err
	}
	pg, err := page(ctx, qs, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	return &sourcesOut{QueueUrls: append([]string{}, pg.QueueUrls...), NextToken: pg.NextToken}, nil
}

type moveTaskIn struct {
	SourceArn                    string `json:"SourceArn"`
	DestinationArn               string `json:"DestinationArn"`
	MaxNumberOfMessagesPerSecond *int   `json:"MaxNumberOfMessagesPerSecond"`
}

type moveTaskOut struct {
	TaskHandle string `json:"TaskHandle" xml:"TaskHandle"`
}

func (s *Server) startMoveTask(ctx context.Context, in *moveTaskIn) (*moveTaskOut, error) {
	if in.SourceArn == "" {
		return nil, missing("SourceArn")
	}
	rate := 0
	if in.MaxNumberOfMessagesPerSecond != nil {
		if rate = *in.MaxNumberOfMessagesPerSecond; rate < 1 {
			return nil, invalidParam("Value %d for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500.", rate)
		}
	}
	t, err := s.q.StartMoveTask(ctx, in.SourceArn, in.DestinationArn, rate)
	if err != nil {
		return nil, err
	}
	return &moveTaskOut{t.Handle}, nil
}

type cancelIn struct {
	TaskHandle string `json:"TaskHandle"`
}

type cancelOut struct {
	ApproximateNumberOfMessagesMoved int64 `json:"ApproximateNumberOfMessagesMoved" xml:"ApproximateNumberOfMessagesMoved"`
}

func (s *Server) cancelMoveTask(ctx context.Context, in *cancelIn) (*cancelOut, error) {
	if in.TaskHandle == "" {
		return nil, missing("TaskHandle")
	}
	n, err := s.q.CancelMoveTask(ctx, in.TaskHandle)
	if err != nil {
		return nil, err
	}
	return &cancelOut{n}, nil
}

type listTasksIn struct {
	SourceArn  string `json:"SourceArn"`
	MaxResults *int   `json:"MaxResults"`
}

type moveTaskEntry struct {
	TaskHandle                        string `json:"TaskHandle,omitempty" xml:"TaskHandle,omitempty"`
	Status                            string `json:"Status" xml:"Status"`
	SourceArn                         string `json:"SourceArn" xml:"SourceArn"`
	DestinationArn                    string `json:"DestinationArn,omitempty" xml:"DestinationArn,omitempty"`
	MaxNumberOfMessagesPerSecond      *int   `json:"MaxNumberOfMessagesPerSecond,omitempty" xml:"MaxNumberOfMessagesPerSecond,omitempty"`
	ApproximateNumberOfMessagesMoved  int64  `json:"ApproximateNumberOfMessagesMoved" xml:"ApproximateNumberOfMessagesMoved"`
	ApproximateNumberOfMessagesToMove int64  `json:"ApproximateNumberOfMessagesToMove" xml:"ApproximateNumberOfMessagesToMove"`
	FailureReason                     string `json:"FailureReason,omitempty" xml:"FailureReason,omitempty"`
	StartedTimestamp                  int64  `json:"StartedTimestamp" xml:"StartedTimestamp"`
}

type listTasksOut struct {
	Results []moveTaskEntry `json:"Results"`
}

func (s *Server) listMoveTasks(ctx context.Context, in *listTasksIn) (*listTasksOut, error) {
	if in.SourceArn == "" {
		return nil, missing("SourceArn")
	}
	max := 1
	if in.MaxResults != nil {
		if max = *in.MaxResults; max < 1 || max > 10 {
			return nil, invalidParam("Value %d for parameter MaxResults is invalid. Reason: Must be between 1 and 10.", max)
		}
	}
	if q, err := s.q.Get(in.SourceArn[strings.LastIndexByte(in.SourceArn, ':')+1:]); err != nil || q.ARN != in.SourceArn {
		return nil, &queues.Error{Kind: fault.Invalid, Code: queues.ResourceNotFound, Message: "The resource that you specified for the SourceArn parameter doesn't exist."}
	}
	out := &listTasksOut{Results: []moveTaskEntry{}}
	for i, t := range s.q.MoveTasks(in.SourceArn) {
		if i >= max {
			break
		}
		e := moveTaskEntry{Status: t.Status, SourceArn: t.SourceArn, DestinationArn: t.DestinationArn, ApproximateNumberOfMessagesMoved: t.Moved,
			ApproximateNumberOfMessagesToMove: t.ToMove, FailureReason: t.FailureReason, StartedTimestamp: t.Started}
		if t.Status == "RUNNING" {
			e.TaskHandle = t.Handle
		}
		if t.MaxPerSecond > 0 {
			rate := t.MaxPerSecond
			e.MaxNumberOfMessagesPerSecond = &rate
		}
		out.Results = append(out.Results, e)
	}
	return out, nil
}

func missing(param string) error {
	return &queues.Error{Kind: fault.Invalid, Code: queues.MissingParameter, Message: "The request must contain the parameter " + param + "."}
}

func invalidParam(format string, args ...any) error {
	return &queues.Error{Kind: fault.Invalid, Code: queues.InvalidParameterValue, Message: sprintf(format, args...)}
}

// Operation is the SQS API's table from requests to IAM actions and
// resources: sqs:<Operation> (a batch asks for its single operation's
// action, as IAM names them) on the queue's ARN, or "*" for ListQueues.
func (s *Server) Operation(r *http.Request, body []byte) (edge.Operation, *awsproto.Error) {
	var op, queueURLParam, queueNameParam, sourceArn string
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		op, _ = strings.CutPrefix(target, "AmazonSQS.")
		var in struct {
			QueueURL  string `json:"QueueUrl"`
			QueueName string `json:"QueueName"`
			SourceArn string `json:"SourceArn"`
		}
		jsonUnmarshal(body, &in) // a body that is not JSON is the API's to refuse
		queueURLParam, queueNameParam, sourceArn = in.QueueURL, in.QueueName, in.SourceArn
	} else {
		p, err := awsproto.QueryParams(r, body)
		if err != nil {
			return edge.Operation{}, err
		}
		op, queueURLParam, queueNameParam, sourceArn = p.Get("Action"), p.Get("QueueUrl"), p.Get("QueueName"), p.Get("SourceArn")
		if op == "" {
			return edge.Operation{}, awsproto.Errorf(http.StatusBadRequest, "MissingAction", "The request must contain the parameter Action.")
		}
	}
	action := "sqs:" + strings.TrimSuffix(op, "Batch")
	name := queueNameParam
	if op != "CreateQueue" && op != "GetQueueUrl" {
		name = ""
		if n, err := queueName(context.WithValue(r.Context(), reqKey{}, &reqInfo{pathQueue: pathQueue(r.URL.Path)}), queueURLParam); err == nil {
			name = n
		}
	}
	if sourceArn != "" && (op == "StartMessageMoveTask" || op == "ListMessageMoveTasks") {
		return edge.Operation{Action: action, Resource: sourceArn}, nil
	}
	if op == "ListQueues" || name == "" {
		return edge.Operation{Action: action, Resource: "*"}, nil
	}
	if q, err := s.q.Get(name); err == nil {
		return edge.Operation{Action: action, Resource: q.ARN}, nil // named in the region it was made in
	}
	return edge.Operation{Action: action, Resource: "arn:aws:sqs:" + region(r) + ":" + awsproto.AccountID + ":" + name}, nil
}

// Actions returns the IAM actions of the SQS API's operations.
func Actions() []string {
	var out []string
	seen := map[string]bool{}
	for _, op := range New(nil, nil).json.Operations() {
		a := "sqs:" + strings.TrimSuffix(op, "Batch")
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}
