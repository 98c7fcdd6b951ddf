package native

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tasker-go/tasker/worker"
)

// The order fulfillment workflow (tasker-core's business_workflow):
// validate_order → reserve_inventory → process_payment → ship_order, with a
// fixed product catalogue and simulated inventory, payment gateway and
// carriers.

const (
	stepValidateOrder    = "validate_order"
	stepReserveInventory = "reserve_inventory"
	stepProcessPayment   = "process_payment"
)

// catalogueProduct is one product the simulated shop sells.
type catalogueProduct struct {
	Name       string
	PriceCents int64
	Stock      int
}

// orderCatalogue is the shop's product catalogue and stock.
var orderCatalogue = map[string]catalogueProduct{
	"WIDGET-001": {Name: "Standard Widget", PriceCents: 2999, Stock: 100},
	"WIDGET-002": {Name: "Premium Widget", PriceCents: 4999, Stock: 50},
	"GADGET-002": {Name: "Deluxe Gadget", PriceCents: 14999, Stock: 25},
}

// Order rules.
const (
	orderTaxBasisPoints   = 800     // 8 % sales tax
	orderMaxTotalCents    = 5000000 // orders above 50,000.00 are refused
	paymentFeeBasisPoints = 290     // 2.9 % gateway fee
	reservationMinutes    = 15
)

// shippingRate is what a shipping method costs and who carries it.
type shippingRate struct {
	Carrier      string
	CostCents    int64
	DeliveryDays string
}

var shippingRates = map[string]shippingRate{
	"standard":  {Carrier: "UPS", CostCents: 899, DeliveryDays: "3-5 business days"},
	"express":   {Carrier: "FedEx", CostCents: 1500, DeliveryDays: "1-2 business days"},
	"overnight": {Carrier: "FedEx", CostCents: 2500, DeliveryDays: "next business day"},
}

var paymentMethods = []string{"credit_card", "debit_card", "paypal"}

// orderContext is the task context of an order.
type orderContext struct {
	Customer struct {
		ID    int64  `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"customer"`
	Items []struct {
		SKU      string   `json:"sku"`
		Quantity int      `json:"quantity"`
		Price    *float64 `json:"price"`
	} `json:"items"`
	Payment struct {
		Method string `json:"method"`
		Token  string `json:"token"`
	} `json:"payment"`
	Shipping struct {
		Method  string         `json:"method"`
		Address map[string]any `json:"address"`
	} `json:"shipping"`
}

// orderLine is a validated order line.
type orderLine struct {
	SKU       string  `json:"sku"`
	Name      string  `json:"name"`
	Quantity  int     `json:"quantity"`
	UnitPrice float64 `json:"unit_price"`
	LineTotal float64 `json:"line_total"`
}

// validatedOrder is the result of validate_order.
type validatedOrder struct {
	CustomerID    int64       `json:"customer_id"`
	CustomerName  string      `json:"customer_name"`
	CustomerEmail string      `json:"customer_email"`
	Items         []orderLine `json:"items"`
	ItemCount     int         `json:"item_count"`
	Subtotal      float64     `json:"subtotal"`
	TaxRate       float64     `json:"tax_rate"`
	Tax           float64     `json:"tax"`
	Total         float64     `json:"total"`
	Status        string      `json:"status"`
}

// validateOrder checks the customer and items against the catalogue and
// computes subtotal, tax and total.
func validateOrder(_ context.Context, step *worker.Step[orderContext]) (validatedOrder, error) {
	oc := step.Input
	c := oc.Customer
	switch {
	case c.ID <= 0:
		return validatedOrder{}, invalid("customer.id must be a positive integer")
	case strings.TrimSpace(c.Name) == "":
		return validatedOrder{}, invalid("customer.name is required")
	case !plausibleEmail(c.Email):
		return validatedOrder{}, invalid("customer.email %q is not an email address", c.Email)
	case len(oc.Items) == 0:
		return validatedOrder{}, invalid("the order has no items")
	}
	out := validatedOrder{CustomerID: c.ID, CustomerName: c.Name, CustomerEmail: c.Email,
		TaxRate: float64(orderTaxBasisPoints) / 10000, Status: "validated"}
	var subtotal int64
	for i, it := range oc.Items {
		p, ok := orderCatalogue[it.SKU]
		switch {
		case !ok:
			return validatedOrder{}, invalid("items[%d]: unknown sku %q", i, it.SKU)
		case it.Quantity < 1:
			return validatedOrder{}, invalid("items[%d]: quantity must be at least 1, got %d", i, it.Quantity)
		case it.Price != nil && *it.Price <= 0:
			return validatedOrder{}, invalid("items[%d]: price must be positive, got %v", i, *it.Price)
		}
		unit := p.PriceCents
		if it.Price != nil {
			unit = cents(*it.Price) // the price the customer was quoted
		}
		lineTotal := unit * int64(it.Quantity)
		out.Items = append(out.Items, orderLine{SKU: it.SKU, Name: p.Name, Quantity: it.Quantity,
			UnitPrice: units(unit), LineTotal: units(lineTotal)})
		out.ItemCount += it.Quantity
		subtotal += lineTotal
	}
	tax := percentOf(subtotal, orderTaxBasisPoints)
	total := subtotal + tax
	if total > orderMaxTotalCents {
		return validatedOrder{}, worker.WithErrorCode(
			invalid("order total %.2f exceeds the limit of %.2f", units(total), units(orderMaxTotalCents)), "ORDER_TOTAL_EXCEEDED")
	}
	out.Subtotal, out.Tax, out.Total = units(subtotal), units(tax), units(total)
	return out, nil
}

// reservation is the result of reserve_inventory.
type reservation struct {
	ReservationID    string             `json:"reservation_id"`
	Items            []reservedQuantity `json:"items"`
	TotalReserved    int                `json:"total_reserved"`
	ExpiresInMinutes int                `json:"expires_in_minutes"`
	Status           string             `json:"status"`
}

type reservedQuantity struct {
	SKU            string `json:"sku"`
	Quantity       int    `json:"quantity"`
	Available      int    `json:"available"`
	RemainingStock int    `json:"remaining_stock"`
}

// reserveInventory checks the stock of every validated line and reserves
// it. Insufficient stock is a non-retryable failure.
func reserveInventory(_ context.Context, step *worker.Step[struct{}]) (reservation, error) {
	order, err := worker.Dependency[validatedOrder](step, stepValidateOrder)
	if err != nil {
		return reservation{}, err
	}
	wanted := map[string]int{}
	var skus []string
	for _, l := range order.Items {
		if _, seen := wanted[l.SKU]; !seen {
			skus = append(skus, l.SKU)
		}
		wanted[l.SKU] += l.Quantity
	}
	out := reservation{ReservationID: derivedID(step, "RES-", 12), ExpiresInMinutes: reservationMinutes, Status: "reserved"}
	for _, sku := range skus {
		stock := orderCatalogue[sku].Stock
		if wanted[sku] > stock {
			return reservation{}, &worker.Error{Type: "InsufficientInventory", Code: "INSUFFICIENT_INVENTORY", Permanent: true,
				Err: fmt.Errorf("insufficient stock for %s: %d requested, %d available", sku, wanted[sku], stock)}
		}
		out.Items = append(out.Items, reservedQuantity{SKU: sku, Quantity: wanted[sku], Available: stock,
			RemainingStock: stock - wanted[sku]})
		out.TotalReserved += wanted[sku]
	}
	return out, nil
}

// payment is the result of process_payment.
type payment struct {
	TransactionID string  `json:"transaction_id"`
	ReservationID string  `json:"reservation_id"`
	PaymentMethod string  `json:"payment_method"`
	Amount        float64 `json:"amount"`
	FeeRate       float64 `json:"fee_rate"`
	Fee           float64 `json:"fee"`
	NetAmount     float64 `json:"net_amount"`
	Gateway       string  `json:"gateway"`
	Status        string  `json:"status"`
}

// processPayment charges the order total through the simulated gateway.
// Tokens starting "tok_declined" are declined (non-retryable); tokens
// starting "tok_gateway_error" fail as a retryable gateway outage.
func processPayment(_ context.Context, step *worker.Step[orderContext]) (payment, error) {
	order, err := worker.Dependency[validatedOrder](step, stepValidateOrder)
	if err != nil {
		return payment{}, err
	}
	res, err := worker.Dependency[reservation](step, stepReserveInventory)
	if err != nil {
		return payment{}, err
	}
	cfg, err := worker.Config[struct {
		SupportedMethods []string `json:"supported_methods"`
	}](step)
	if err != nil {
		return payment{}, err
	}
	supported := paymentMethods
	if len(cfg.SupportedMethods) > 0 {
		supported = cfg.SupportedMethods
	}
	oc := step.Input
	switch p := oc.Payment; {
	case !slices.Contains(supported, p.Method):
		return payment{}, invalid("payment.method %q is not supported (use one of %s)", p.Method, strings.Join(supported, ", "))
	case strings.TrimSpace(p.Token) == "":
		return payment{}, invalid("payment.token is required")
	case strings.HasPrefix(p.Token, "tok_declined"):
		return payment{}, &worker.Error{Err: errors.New("payment declined by the gateway"),
			Type: "PaymentDeclined", Code: "CARD_DECLINED", Permanent: true}
	case strings.HasPrefix(p.Token, "tok_gateway_error"):
		return payment{}, &worker.Error{Err: errors.New("payment gateway unavailable"),
			Type: worker.ErrorTypeRetryable, Code: "GATEWAY_UNAVAILABLE"}
	}
	amount := cents(order.Total)
	fee := percentOf(amount, paymentFeeBasisPoints)
	return payment{
		TransactionID: derivedID(step, "TXN-", 16),
		ReservationID: res.ReservationID,
		PaymentMethod: oc.Payment.Method,
		Amount:        units(amount),
		FeeRate:       float64(paymentFeeBasisPoints) / 10000,
		Fee:           units(fee),
		NetAmount:     units(amount - fee),
		Gateway:       "simulated",
		Status:        "captured",
	}, nil
}

// shipment is the result of ship_order.
type shipment struct {
	ShipmentID        string         `json:"shipment_id"`
	TrackingNumber    string         `json:"tracking_number"`
	Carrier           string         `json:"carrier"`
	ShippingMethod    string         `json:"shipping_method"`
	ShippingCost      float64        `json:"shipping_cost"`
	EstimatedDelivery string         `json:"estimated_delivery"`
	Address           map[string]any `json:"address"`
	TransactionID     string         `json:"transaction_id"`
	ReservationID     string         `json:"reservation_id"`
	OrderTotal        float64        `json:"order_total"`
	Status            string         `json:"status"`
}

// shipOrder books the shipment: FedEx for express and overnight, UPS for
// standard, at a flat cost per method.
func shipOrder(_ context.Context, step *worker.Step[orderContext]) (shipment, error) {
	order, err := worker.Dependency[validatedOrder](step, stepValidateOrder)
	if err != nil {
		return shipment{}, err
	}
	res, err := worker.Dependency[reservation](step, stepReserveInventory)
	if err != nil {
		return shipment{}, err
	}
	pay, err := worker.Dependency[payment](step, stepProcessPayment)
	if err != nil {
		return shipment{}, err
	}
	oc := step.Input
	rate, ok := shippingRates[oc.Shipping.Method]
	if !ok {
		return shipment{}, invalid("shipping.method %q is not one of standard, express, overnight", oc.Shipping.Method)
	}
	if len(oc.Shipping.Address) == 0 {
		return shipment{}, invalid("shipping.address is required")
	}
	tracking := "1Z" + derivedID(step, "", 16)
	if rate.Carrier == "FedEx" {
		tracking = derivedDigits(step, "fedex", 12)
	}
	return shipment{
		ShipmentID:        derivedID(step, "SHP-", 12),
		TrackingNumber:    tracking,
		Carrier:           rate.Carrier,
		ShippingMethod:    oc.Shipping.Method,
		ShippingCost:      units(rate.CostCents),
		EstimatedDelivery: rate.DeliveryDays,
		Address:           oc.Shipping.Address,
		TransactionID:     pay.TransactionID,
		ReservationID:     res.ReservationID,
		OrderTotal:        order.Total,
		Status:            "shipped",
	}, nil
}

// plausibleEmail is a light check: something@something.something.
func plausibleEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".") && !strings.ContainsAny(s, " \t\n") &&
		!strings.HasSuffix(s, ".") && strings.Count(s, "@") == 1
}

func registerOrderFulfillment(r *worker.Registry) error {
	const prefix = "tasker_example_rs::step_handlers::order_fulfillment::"
	return errors.Join(
		worker.Register(r, prefix+"ValidateOrderHandler", worker.Func(validateOrder)),
		worker.Register(r, prefix+"ReserveInventoryHandler", worker.Func(reserveInventory)),
		worker.Register(r, prefix+"ProcessPaymentHandler", worker.Func(processPayment)),
		worker.Register(r, prefix+"ShipOrderHandler", worker.Func(shipOrder)),
	)
}
