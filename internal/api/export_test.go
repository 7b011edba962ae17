package api

import "slices"

// Patterns returns the patterns registered on the router through handle
// and the documentation routes, in the order they were registered.
func (s *Server) Patterns() []string { return slices.Clone(s.openapi.patterns) }
