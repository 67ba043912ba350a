// Command thumbnail is an example function: when an image (JPEG or PNG) is
// created in a bucket, it writes a copy at half the width and height to the
// bucket of the same name with "-resized" appended, under the same key.
// It is the classic Lambda "resize images uploaded to S3" function, and
// runs unchanged on Aloft and on AWS Lambda. See README.md.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"log"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/image/draw"
)

// suffix names the bucket the thumbnails go to.
const suffix = "-resized"

// maxSize is the largest image the function reads, in bytes.
const maxSize = 64 << 20

// client is made once per instance and reused by its invocations. Its
// endpoint and credentials come from the environment (AWS_ENDPOINT_URL on
// Aloft); path-style addressing works with any endpoint.
var client *s3.Client

func handle(ctx context.Context, ev events.S3Event) error {
	for _, r := range ev.Records {
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			continue
		}
		bucket, key := r.S3.Bucket.Name, r.S3.Object.URLDecodedKey
		if strings.HasSuffix(bucket, suffix) {
			// Never resize the thumbnails themselves, even if the
			// notification is configured on the wrong bucket.
			log.Printf("skipping %s/%s: already a resized bucket", bucket, key)
			continue
		}
		if err := resize(ctx, bucket, key); err != nil {
			return err
		}
	}
	return nil
}

// resize reads bucket/key, halves it and writes it to bucket-resized/key.
func resize(ctx context.Context, bucket, key string) error {
	obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("get %s/%s: %w", bucket, key, err)
	}
	defer obj.Body.Close()
	if aws.ToInt64(obj.ContentLength) > maxSize {
		log.Printf("skipping %s/%s: %d bytes is more than %d", bucket, key, aws.ToInt64(obj.ContentLength), maxSize)
		return nil
	}
	src, format, err := image.Decode(obj.Body)
	if errors.Is(err, image.ErrFormat) {
		log.Printf("skipping %s/%s: not a JPEG or PNG image", bucket, key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("decode %s/%s: %w", bucket, key, err)
	}
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, max(1, b.Dx()/2), max(1, b.Dy()/2)))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)

	var out bytes.Buffer
	contentType := "image/png"
	switch format {
	case "jpeg":
		contentType = "image/jpeg"
		err = jpeg.Encode(&out, dst, &jpeg.Options{Quality: 85})
	default:
		err = png.Encode(&out, dst)
	}
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", bucket, key, err)
	}
	_, err = client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(bucket + suffix),
		Key:         aws.String(key),
		Body:        bytes.NewReader(out.Bytes()),
		ContentType: aws.String(contentType),
	})
	if err != nil {
		return fmt.Errorf("put %s%s/%s: %w", bucket, suffix, key, err)
	}
	log.Printf("resized %s/%s (%dx%d) to %s%s/%s (%dx%d)", bucket, key, b.Dx(), b.Dy(), bucket, suffix, key, dst.Bounds().Dx(), dst.Bounds().Dy())
	return nil
}

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatalf("load AWS configuration: %v", err)
	}
	client = s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = true
		// An object uploaded without a checksum has none to validate on
		// download; that is expected, so do not log it for each image.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	lambda.Start(handle)
}
