package rabbitmq

// RouteExists exposes routeExists to the package's tests.
var RouteExists = (*Client).routeExists
