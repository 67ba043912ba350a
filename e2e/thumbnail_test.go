package e2e

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// testImage draws a w×h gradient with a dark square in its top-left
// quarter, so a correct resize keeps the square where it was.
func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 200, 255}
			if x < w/4 && y < h/4 {
				c = color.RGBA{10, 10, 10, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// TestThumbnailExample deploys examples/thumbnail, sets the notification
// its README describes, uploads a JPEG and a PNG, and waits for the
// half-size copies in the -resized bucket.
func TestThumbnailExample(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	// The role and policy of the README's step, made with the IAM API.
	role := executionRole(t, srv, "thumbnail", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"},
		{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::photos-resized/*"}]}`)
	out, err := srv.Lambda().CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("thumbnail"), Runtime: ltypes.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role:       aws.String(role),
		Code:       &ltypes.FunctionCode{ZipFile: alofttest.GoFunction(t, "examples/thumbnail", "v1")},
		Timeout:    aws.Int32(30),
		MemorySize: aws.Int32(256),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := srv.S3()
	for _, b := range []string{"photos", "photos-resized"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	notifyTo(t, c, "photos", lambdaConfig("thumbnails", aws.ToString(out.FunctionArn), "uploads/", "", "s3:ObjectCreated:*"))

	var jpg, pngBuf bytes.Buffer
	if err := jpeg.Encode(&jpg, testImage(640, 480), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(&pngBuf, testImage(301, 199)); err != nil {
		t.Fatal(err)
	}
	uploads := []struct {
		key, contentType, format string
		body                     []byte
		w, h                     int
	}{
		{"uploads/holiday photo.jpg", "image/jpeg", "jpeg", jpg.Bytes(), 320, 240},
		{"uploads/diagrams/é.png", "image/png", "png", pngBuf.Bytes(), 150, 99},
	}
	for _, u := range uploads {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String(u.key),
			Body: bytes.NewReader(u.body), ContentType: aws.String(u.contentType)})
		if err != nil {
			t.Fatalf("upload %s: %v", u.key, err)
		}
	}
	// Out of the filter's prefix: no thumbnail.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("elsewhere.png"),
		Body: bytes.NewReader(pngBuf.Bytes())}); err != nil {
		t.Fatal(err)
	}

	for _, u := range uploads {
		var got []byte
		var resp *s3.GetObjectOutput
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			resp, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos-resized"), Key: aws.String(u.key)})
			if err == nil {
				got, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				break
			}
			var nsk *types.NoSuchKey
			if !errors.As(err, &nsk) || time.Now().After(deadline) {
				t.Fatalf("thumbnail of %s: %v", u.key, err)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		img, format, err := image.Decode(bytes.NewReader(got))
		if err != nil {
			t.Fatalf("thumbnail of %s does not decode: %v", u.key, err)
		}
		b := img.Bounds()
		if format != u.format || b.Dx() != u.w || b.Dy() != u.h || aws.ToString(resp.ContentType) != u.contentType {
			t.Errorf("thumbnail of %s: %s %dx%d (%s), want %s %dx%d (%s)", u.key, format, b.Dx(), b.Dy(),
				aws.ToString(resp.ContentType), u.format, u.w, u.h, u.contentType)
		}
		// The dark square is still in the top-left quarter, and the
		// opposite corner is still light.
		dark := color.GrayModel.Convert(img.At(u.w/8, u.h/8)).(color.Gray).Y
		light := color.GrayModel.Convert(img.At(u.w*7/8, u.h*7/8)).(color.Gray).Y
		if dark > 40 || light < 120 {
			t.Errorf("thumbnail of %s: gray %d in the dark square and %d in the light corner", u.key, dark, light)
		}
	}
	time.Sleep(time.Second)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("photos-resized"), Key: aws.String("elsewhere.png")})
	apiErr(t, err, "NotFound", 404)
}
