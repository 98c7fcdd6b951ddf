package native

import (
	"regexp"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

const orderPrefix = "tasker_example_rs::step_handlers::order_fulfillment::"

func orderWorkflow() []stepDef {
	return []stepDef{
		{name: "validate_order", callable: orderPrefix + "ValidateOrderHandler"},
		{name: "reserve_inventory", callable: orderPrefix + "ReserveInventoryHandler", deps: []string{"validate_order"}},
		{name: "process_payment", callable: orderPrefix + "ProcessPaymentHandler", deps: []string{"validate_order", "reserve_inventory"}},
		{name: "ship_order", callable: orderPrefix + "ShipOrderHandler", deps: []string{"validate_order", "reserve_inventory", "process_payment"}},
	}
}

func sampleOrder(method string, items ...map[string]any) map[string]any {
	if len(items) == 0 {
		items = []map[string]any{
			{"sku": "WIDGET-001", "quantity": 2, "price": 29.99},
			{"sku": "GADGET-002", "quantity": 1, "price": 149.99},
		}
	}
	return map[string]any{
		"customer": map[string]any{"id": 42, "name": "Ada Park", "email": "ada@example.com"},
		"items":    items,
		"payment":  map[string]any{"method": "credit_card", "token": "tok_visa"},
		"shipping": map[string]any{"method": method, "address": map[string]any{"street": "1 Main St", "city": "Springfield"}},
	}
}

func TestOrderFulfillmentComputesTotalsFeesAndCarrier(t *testing.T) {
	tmpl := workflow("orders", orderWorkflow()...)
	for _, tc := range []struct {
		method  string
		carrier string
		cost    float64
		track   *regexp.Regexp
	}{
		{"standard", "UPS", 8.99, regexp.MustCompile(`^1Z[0-9A-F]{16}$`)},
		{"express", "FedEx", 15, regexp.MustCompile(`^[0-9]{12}$`)},
		{"overnight", "FedEx", 25, regexp.MustCompile(`^[0-9]{12}$`)},
	} {
		run := runWorkflow(t, tmpl, sampleOrder(tc.method))
		require.True(t, run.Complete(), "failed: %v", run.Failed())

		var order validatedOrder
		decodeStep(t, run, "validate_order", &order)
		require.Equal(t, 209.97, order.Subtotal) // 2×29.99 + 149.99
		require.Equal(t, 16.80, order.Tax)       // 8 %, rounded to the cent
		require.Equal(t, 226.77, order.Total)
		require.Equal(t, 3, order.ItemCount)
		require.Equal(t, "Standard Widget", order.Items[0].Name)
		require.Equal(t, 59.98, order.Items[0].LineTotal)

		var res reservation
		decodeStep(t, run, "reserve_inventory", &res)
		require.Regexp(t, `^RES-[0-9A-F]{12}$`, res.ReservationID)
		require.Equal(t, 3, res.TotalReserved)
		require.Equal(t, []reservedQuantity{
			{SKU: "WIDGET-001", Quantity: 2, Available: 100, RemainingStock: 98},
			{SKU: "GADGET-002", Quantity: 1, Available: 25, RemainingStock: 24},
		}, res.Items)

		var pay payment
		decodeStep(t, run, "process_payment", &pay)
		require.Regexp(t, `^TXN-[0-9A-F]{16}$`, pay.TransactionID)
		require.Equal(t, 226.77, pay.Amount)
		require.Equal(t, 6.58, pay.Fee) // 2.9 % of 226.77 = 6.576…
		require.Equal(t, 220.19, pay.NetAmount)
		require.Equal(t, res.ReservationID, pay.ReservationID)

		var ship shipment
		decodeStep(t, run, "ship_order", &ship)
		require.Equal(t, tc.carrier, ship.Carrier, tc.method)
		require.Equal(t, tc.cost, ship.ShippingCost, tc.method)
		require.Regexp(t, tc.track, ship.TrackingNumber)
		require.Equal(t, pay.TransactionID, ship.TransactionID)
		require.Equal(t, res.ReservationID, ship.ReservationID)
		require.Equal(t, 226.77, ship.OrderTotal)
		require.Equal(t, "shipped", ship.Status)
	}
}

func TestOrderIdentifiersAreDerivedFromTheStep(t *testing.T) {
	h := handler(t, orderPrefix+"ReserveInventoryHandler")
	dep := map[string]any{"items": []map[string]any{{"sku": "WIDGET-002", "quantity": 1}}}
	id := uuid.MustParse("0190a6f0-0000-7000-8000-000000000001")
	build := func(step uuid.UUID, attempt int) string {
		var r reservation
		res := workertest.Execute(h, workertest.NewStep("reserve_inventory").WithStepUUID(step).
			WithAttempt(attempt, 3).WithDependency("validate_order", dep))
		require.NoError(t, workertest.DecodeValue(res, &r))
		return r.ReservationID
	}
	first := build(id, 1)
	require.Equal(t, first, build(id, 2), "a retry reuses the reservation id")
	require.NotEqual(t, first, build(uuid.MustParse("0190a6f0-0000-7000-8000-000000000002"), 1))
}

func TestValidateOrderRejects(t *testing.T) {
	h := handler(t, orderPrefix+"ValidateOrderHandler")
	run := func(ctx map[string]any) (string, bool, string) {
		res := workertest.Execute(h, workertest.NewStep("validate_order").WithContext(ctx))
		require.False(t, res.IsSuccess())
		return res.ErrorType(), res.Retryable(), res.ErrorCode()
	}
	bad := []map[string]any{
		sampleOrder("standard", map[string]any{"sku": "NOPE-1", "quantity": 1, "price": 1.0}),
		sampleOrder("standard", map[string]any{"sku": "WIDGET-001", "quantity": 0, "price": 29.99}),
		sampleOrder("standard", map[string]any{"sku": "WIDGET-001", "quantity": 1, "price": -1}),
		func() map[string]any { c := sampleOrder("standard"); c["items"] = []any{}; return c }(),
		func() map[string]any {
			c := sampleOrder("standard")
			c["customer"] = map[string]any{"id": 1, "name": "X", "email": "not-an-email"}
			return c
		}(),
		func() map[string]any {
			c := sampleOrder("standard")
			c["customer"] = map[string]any{"name": "X"}
			return c
		}(),
	}
	for _, ctx := range bad {
		typ, retryable, _ := run(ctx)
		require.Equal(t, "ValidationError", typ)
		require.False(t, retryable)
	}
	// 50,000.00 is the ceiling, tax included: 1,000 premium widgets at
	// 49.99 = 49,990.00 + 8 % = 53,989.20.
	typ, retryable, code := run(sampleOrder("standard", map[string]any{"sku": "WIDGET-002", "quantity": 1000, "price": 49.99}))
	require.Equal(t, "ValidationError", typ)
	require.False(t, retryable)
	require.Equal(t, "ORDER_TOTAL_EXCEEDED", code)

	// Just under the ceiling passes: 46,296.00 + 3,703.68 = 49,999.68.
	res := workertest.Execute(h, workertest.NewStep("validate_order").WithContext(
		sampleOrder("standard", map[string]any{"sku": "WIDGET-002", "quantity": 1, "price": 46296.00})))
	require.True(t, res.IsSuccess(), res.Message())
	require.Equal(t, 49999.68, valueOfFloat(t, res, "total"))
}

func valueOfFloat(t *testing.T, r worker.Result, field string) float64 {
	t.Helper()
	var v map[string]any
	require.NoError(t, workertest.DecodeValue(r, &v))
	f, ok := v[field].(float64)
	require.True(t, ok, "%s is not a number: %v", field, v[field])
	return f
}

func TestReserveInventoryRefusesMoreThanStock(t *testing.T) {
	h := handler(t, orderPrefix+"ReserveInventoryHandler")
	// Two lines of the same SKU count together: 20 + 10 > 25.
	dep := map[string]any{"items": []map[string]any{{"sku": "GADGET-002", "quantity": 20}, {"sku": "GADGET-002", "quantity": 10}}}
	res := workertest.Execute(h, workertest.NewStep("reserve_inventory").WithDependency("validate_order", dep))
	requireFailure(t, res, "InsufficientInventory", false)
	require.Equal(t, "INSUFFICIENT_INVENTORY", res.ErrorCode())
}

func TestProcessPaymentGatewayOutcomes(t *testing.T) {
	h := handler(t, orderPrefix+"ProcessPaymentHandler")
	step := func(method, token string) *workertest.StepBuilder {
		ctx := sampleOrder("standard")
		ctx["payment"] = map[string]any{"method": method, "token": token}
		return workertest.NewStep("process_payment").WithContext(ctx).
			WithDependency("validate_order", map[string]any{"total": 100.00}).
			WithDependency("reserve_inventory", map[string]any{"reservation_id": "RES-1"})
	}
	requireFailure(t, workertest.Execute(h, step("credit_card", "tok_declined_1")), "PaymentDeclined", false)
	requireFailure(t, workertest.Execute(h, step("credit_card", "tok_gateway_error")), "RetryableError", true)
	requireFailure(t, workertest.Execute(h, step("bitcoin", "tok")), "ValidationError", false)
	requireFailure(t, workertest.Execute(h, step("paypal", "")), "ValidationError", false)
	// The template's supported_methods narrows the methods.
	requireFailure(t, workertest.Execute(h, step("paypal", "tok").WithConfig(map[string]any{"supported_methods": []string{"credit_card"}})),
		"ValidationError", false)

	var p payment
	require.NoError(t, workertest.DecodeValue(workertest.Execute(h, step("paypal", "tok")), &p))
	require.Equal(t, 100.00, p.Amount)
	require.Equal(t, 2.90, p.Fee)
	require.Equal(t, 97.10, p.NetAmount)
	require.Equal(t, 0.029, p.FeeRate)
	require.Equal(t, "RES-1", p.ReservationID)

	// Missing ancestors are a wiring error.
	res := workertest.Execute(h, workertest.NewStep("process_payment").WithContext(sampleOrder("standard")))
	requireFailure(t, res, "PermanentError", false)
}

func TestShipOrderRejectsUnknownMethod(t *testing.T) {
	h := handler(t, orderPrefix+"ShipOrderHandler")
	b := workertest.NewStep("ship_order").WithContext(sampleOrder("teleport")).
		WithDependency("validate_order", map[string]any{"total": 1}).
		WithDependency("reserve_inventory", map[string]any{"reservation_id": "RES-1"}).
		WithDependency("process_payment", map[string]any{"transaction_id": "TXN-1"})
	requireFailure(t, workertest.Execute(h, b), "ValidationError", false)
}
