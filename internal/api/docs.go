package api

import (
	_ "embed" // the OpenAPI document
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"

	swaggerfiles "github.com/swaggo/files/v2"
	"sigs.k8s.io/yaml"

	"github.com/theeye/eye"
)

// openapiYAML is the OpenAPI 3.1 document of the API, as written. Tests
// check it against the routes, against every answer of the test suite, and
// against the OpenAPI 3.1 rules.
//
//go:embed openapi.yaml
var openapiYAML string

// openAPI is the document the documentation routes serve, and the patterns
// registered on the router, which the document must describe.
type openAPI struct {
	json     []byte   // the document as JSON, converted once in New
	err      error    // why it could not be converted: a bug the tests catch
	patterns []string // the patterns registered through handle and public, in order
}

// docsPage is the interactive documentation: Swagger UI, served from the
// binary (github.com/swaggo/files/v2), loading the document from this
// server. Asset paths are absolute, so that the page works at /docs and at
// /docs/ alike (neither is redirected to the other).
const docsPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>The Eye — API</title>
<link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css">
<link rel="stylesheet" type="text/css" href="/docs/index.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="/docs/favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
<script src="/docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
<script src="/docs/swagger-initializer.js" charset="UTF-8"></script>
</body>
</html>
`

// docsPolicy is the content security policy of the documentation page.
// Swagger UI sets inline styles and draws data: images.
const docsPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// docsInitializer starts Swagger UI on this server's document. No request
// leaves the server: the online validator is off.
const docsInitializer = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
};
`

// docsRoutes registers the public documentation routes: the OpenAPI
// document and the interactive docs.
func (s *Server) docsRoutes() {
	s.openapi.json, s.openapi.err = convertOpenAPI()
	s.public("GET /openapi.json", s.serveOpenAPIJSON)
	s.public("GET /openapi.yaml", s.serveOpenAPIYAML)
	s.public("GET /docs", s.serveDocs)
	s.public("GET /docs/{file}", s.serveDocsFile)
}

// public registers a route that needs no key.
func (s *Server) public(pattern string, h http.HandlerFunc) {
	s.openapi.patterns = append(s.openapi.patterns, pattern)
	s.mux.HandleFunc(pattern, h)
}

// convertOpenAPI converts the document to JSON.
func convertOpenAPI() ([]byte, error) {
	j, err := yaml.YAMLToJSON([]byte(openapiYAML))
	if err != nil {
		return nil, fmt.Errorf("convert openapi.yaml to JSON: %w", err)
	}
	return j, nil
}

// serveOpenAPIJSON answers GET /openapi.json.
func (s *Server) serveOpenAPIJSON(w http.ResponseWriter, r *http.Request) {
	if s.openapi.err != nil {
		s.fail(w, r, s.openapi.err)
		return
	}
	writeDoc(w, "application/json", s.openapi.json)
}

// serveOpenAPIYAML answers GET /openapi.yaml.
func (s *Server) serveOpenAPIYAML(w http.ResponseWriter, r *http.Request) {
	writeDoc(w, "application/yaml", []byte(openapiYAML))
}

// serveDocs answers GET /docs/ with the Swagger UI page. Its content
// security policy lets it load only this server's scripts and styles, and
// talk to this server only.
func (s *Server) serveDocs(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", docsPolicy)
	writeDoc(w, "text/html; charset=utf-8", []byte(docsPage))
}

// serveDocsFile answers GET /docs/{file}: the page, its initializer, or a
// file of Swagger UI.
func (s *Server) serveDocsFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	switch name {
	case "index.html":
		s.serveDocs(w, r)
		return
	case "swagger-initializer.js":
		writeDoc(w, "text/javascript; charset=utf-8", []byte(docsInitializer))
		return
	}
	f, size, ok := openAsset(name)
	if !ok {
		writeProblem(w, r, http.StatusNotFound, eye.ENOTFOUND, "No such file: "+r.URL.Path+".", nil)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", assetType(name))
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, f)
	}
}

// openAsset opens a regular file of Swagger UI.
func openAsset(name string) (fs.File, int64, bool) {
	if !fs.ValidPath(name) {
		return nil, 0, false
	}
	f, err := swaggerfiles.FS.Open(name)
	if err != nil {
		return nil, 0, false
	}
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, 0, false
	}
	return f, info.Size(), true
}

// assetType is the media type of a file of Swagger UI, by its extension.
func assetType(name string) string {
	ext := path.Ext(name)
	if ext == ".map" {
		return "application/json" // source maps
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// writeDoc answers 200 with a document of the documentation routes.
func writeDoc(w http.ResponseWriter, mediaType string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
