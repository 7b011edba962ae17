package api

// docsRoutes registers the public documentation routes: the OpenAPI
// document and the interactive docs.
func (s *Server) docsRoutes() {}
