package lambdaapi

import (
	"net/http"

	"github.com/aloft-dev/aloft/internal/bundle"
	"github.com/aloft-dev/aloft/internal/function"
)

// MaxS3CodeSize bounds a code archive read from S3. Lambda's limit there
// is on the unzipped size (function.MaxUnzippedSize), which an archive
// cannot stay under while being much larger; the margin allows for the
// zip's own headers.
const MaxS3CodeSize = function.MaxUnzippedSize + 16<<20

// codeZip returns the zip a Code (or a layer's Content) member names,
// checked: the ZipFile uploaded with the request, within the size limit
// for direct uploads, or the object in Aloft's S3 that S3Bucket, S3Key
// and S3ObjectVersion name, read with the caller's permissions
// (Deps.S3Code) and bounded by the unzipped limit only.
func (s *Server) codeZip(r *http.Request, c *codeInput) ([]byte, bundle.Info, error) {
	fromS3 := c.S3Bucket != "" || c.S3Key != "" || c.S3ObjectVersion != ""
	switch {
	case c.ImageURI != "":
		return nil, bundle.Info{}, function.InvalidParameter("Container image functions are not supported by this server; upload a .zip file archive.")
	case fromS3 && len(c.ZipFile) > 0:
		return nil, bundle.Info{}, function.InvalidParameter("Please provide either a ZipFile or an S3 location for the code, not both.")
	case fromS3 && (c.S3Bucket == "" || c.S3Key == ""):
		return nil, bundle.Info{}, function.InvalidParameter("Please provide both S3Bucket and S3Key for the code's S3 location.")
	case fromS3:
		if s.d.S3Code == nil {
			return nil, bundle.Info{}, function.InvalidParameter("Code from S3 locations is not supported by this server; upload the .zip file archive as ZipFile.")
		}
		zip, err := s.d.S3Code(r, c.S3Bucket, c.S3Key, c.S3ObjectVersion)
		if err != nil {
			return nil, bundle.Info{}, err
		}
		info, err := bundle.InspectAny(zip)
		if err != nil {
			return nil, bundle.Info{}, err
		}
		return zip, info, nil
	case len(c.ZipFile) == 0:
		return nil, bundle.Info{}, function.InvalidParameter("Please provide a source for function code.")
	}
	info, err := bundle.Inspect(c.ZipFile)
	if err != nil {
		return nil, bundle.Info{}, err
	}
	return c.ZipFile, info, nil
}

// S3CodeError is the error Lambda gives when it cannot read code from
// S3, with S3's error code and message.
func S3CodeError(code, message string) error {
	return function.InvalidParameter("Error occurred while GetObject. S3 Error Code: %s. S3 Error Message: %s", code, message)
}

// S3CodeDenied is the error Lambda gives when the caller may not read
// the code's object.
func S3CodeDenied(bucket, key string) error {
	return function.InvalidParameter("Your access has been denied by S3, please make sure your request credentials have permission to GetObject for %s/%s. S3 Error Code: AccessDenied. S3 Error Message: Access Denied", bucket, key)
}
