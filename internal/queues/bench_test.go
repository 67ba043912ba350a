package queues

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/benchtest"
	"github.com/aloft-dev/aloft/internal/store"
)

// BenchmarkRawPublish is the baseline of BenchmarkSend: ten messages
// published to a work-queue stream of the same backbone, then waited
// for, with nothing of the queue service.
func BenchmarkRawPublish(b *testing.B) {
	st, err := store.Open(context.Background(), store.Options{Dir: b.TempDir(), SyncInterval: benchSync})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	js := st.JetStream()
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Retention: jetstream.WorkQueuePolicy}); err != nil {
		b.Fatal(err)
	}
	body := []byte("a small message")
	benchtest.Clients(b, 16, 10, "msgs/s", func(int) error {
		var fs []jetstream.PubAckFuture
		for range 10 {
			f, err := js.PublishMsgAsync(&nats.Msg{Subject: "raw.m", Data: body})
			if err != nil {
				return err
			}
			fs = append(fs, f)
		}
		for _, f := range fs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return err
			}
		}
		return nil
	})
}

// BenchmarkSend stores batches of ten through the queue service.
func BenchmarkSend(b *testing.B) {
	s := openSync(b, benchSync)
	ctx := context.Background()
	if _, err := s.Create(ctx, "bench", "us-east-1", nil, nil); err != nil {
		b.Fatal(err)
	}
	msgs := make([]*Message, 10)
	for i := range msgs {
		msgs[i] = &Message{Body: "a small message " + strconv.Itoa(i), Delay: -1}
	}
	benchtest.Clients(b, 16, 10, "msgs/s", func(int) error {
		_, errs, err := s.Send(ctx, "bench", msgs)
		if err != nil {
			return err
		}
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// benchSync is the backbone's sync interval in these benchmarks: 0 (the
// default, a flush before every acknowledgement) unless
// ALOFT_BENCH_SYNC names another.
var benchSync, _ = time.ParseDuration(os.Getenv("ALOFT_BENCH_SYNC"))

// BenchmarkRawPublishFetchAck is the baseline of
// BenchmarkSendReceiveDelete: ten messages published to a work-queue
// stream, fetched from a pull consumer and acknowledged, each step
// waited for, with nothing of the queue service.
func BenchmarkRawPublishFetchAck(b *testing.B) {
	st, err := store.Open(context.Background(), store.Options{Dir: b.TempDir(), SyncInterval: benchSync})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	js := st.JetStream()
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Retention: jetstream.WorkQueuePolicy}); err != nil {
		b.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, "RAW", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 100000})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte("a small message")
	benchtest.Clients(b, 16, 10, "msgs/s", func(int) error {
		var fs []jetstream.PubAckFuture
		for range 10 {
			f, err := js.PublishMsgAsync(&nats.Msg{Subject: "raw.m", Data: body})
			if err != nil {
				return err
			}
			fs = append(fs, f)
		}
		for _, f := range fs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return err
			}
		}
		for got := 0; got < 10; {
			batch, err := cons.Fetch(10-got, jetstream.FetchMaxWait(time.Second))
			if err != nil {
				return err
			}
			for m := range batch.Messages() {
				if err := m.DoubleAck(ctx); err != nil {
					return err
				}
				got++
			}
		}
		return nil
	})
}

// BenchmarkSendReceiveDelete sends, receives and deletes batches of ten
// through the queue service.
func BenchmarkSendReceiveDelete(b *testing.B) {
	s := openSync(b, benchSync)
	ctx := context.Background()
	if _, err := s.Create(ctx, "bench", "us-east-1", nil, nil); err != nil {
		b.Fatal(err)
	}
	msgs := make([]*Message, 10)
	for i := range msgs {
		msgs[i] = &Message{Body: "a small message " + strconv.Itoa(i), Delay: -1}
	}
	benchtest.Clients(b, 16, 10, "msgs/s", func(int) error {
		if _, _, err := s.Send(ctx, "bench", msgs); err != nil {
			return err
		}
		for got := 0; got < 10; {
			rs, err := s.Receive(ctx, "bench", ReceiveOptions{Max: 10 - got, Visibility: -1, Wait: 1})
			if err != nil {
				return err
			}
			for _, r := range rs {
				if err := s.DeleteMessage(ctx, "bench", r.Handle); err != nil {
					return err
				}
				got++
			}
		}
		return nil
	})
}
