package native

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tasker-go/tasker/worker"
)

// The e-commerce checkout (tasker-core's ecommerce_order_processing_rs):
// validate_cart → process_payment → update_inventory → create_order →
// send_confirmation. Products are looked up by integer id in a fixed
// catalogue; tax is 8 % and shipping a flat 5.99.

const (
	stepValidateCart    = "validate_cart"
	stepEcomPayment     = "process_payment"
	stepUpdateInventory = "update_inventory"
	stepCreateOrder     = "create_order"
)

const (
	ecomTaxBasisPoints = 800
	ecomShippingCents  = 599
)

// ecomProduct is one product of the e-commerce catalogue.
type ecomProduct struct {
	Name       string
	PriceCents int64
	Stock      int
}

// ecomCatalogue maps product ids to products. Product 5 is out of stock,
// for failure tests.
var ecomCatalogue = map[int64]ecomProduct{
	1: {Name: "Widget A", PriceCents: 2999, Stock: 100},
	2: {Name: "Widget B", PriceCents: 4999, Stock: 50},
	3: {Name: "Gadget C", PriceCents: 1999, Stock: 200},
	4: {Name: "Gizmo D", PriceCents: 9999, Stock: 10},
	5: {Name: "Discontinued E", PriceCents: 1499, Stock: 0},
}

type ecomContext struct {
	CartItems []struct {
		ProductID int64 `json:"product_id"`
		Quantity  int   `json:"quantity"`
	} `json:"cart_items"`
	CustomerInfo struct {
		Email string `json:"email"`
		Name  string `json:"name"`
		Phone string `json:"phone"`
	} `json:"customer_info"`
	PaymentInfo struct {
		Method string   `json:"method"`
		Token  string   `json:"token"`
		Amount *float64 `json:"amount"`
	} `json:"payment_info"`
}

type cartLine struct {
	ProductID int64   `json:"product_id"`
	Name      string  `json:"name"`
	Quantity  int     `json:"quantity"`
	UnitPrice float64 `json:"unit_price"`
	LineTotal float64 `json:"line_total"`
}

// validatedCart is the result of validate_cart.
type validatedCart struct {
	Items     []cartLine `json:"validated_items"`
	ItemCount int        `json:"item_count"`
	Subtotal  float64    `json:"subtotal"`
	Tax       float64    `json:"tax"`
	TaxRate   float64    `json:"tax_rate"`
	Shipping  float64    `json:"shipping"`
	Total     float64    `json:"total"`
}

func validateCart(_ context.Context, step *worker.Step[ecomContext]) (validatedCart, error) {
	ec := step.Input
	if len(ec.CartItems) == 0 {
		return validatedCart{}, invalid("cart_items is empty")
	}
	out := validatedCart{TaxRate: float64(ecomTaxBasisPoints) / 10000}
	var subtotal int64
	for i, it := range ec.CartItems {
		p, ok := ecomCatalogue[it.ProductID]
		switch {
		case !ok:
			return validatedCart{}, invalid("cart_items[%d]: product %d does not exist", i, it.ProductID)
		case it.Quantity < 1:
			return validatedCart{}, invalid("cart_items[%d]: quantity must be at least 1, got %d", i, it.Quantity)
		case it.Quantity > p.Stock:
			return validatedCart{}, outOfStock(fmt.Errorf("cart_items[%d]: only %d of %s in stock, %d requested", i, p.Stock, p.Name, it.Quantity))
		}
		line := p.PriceCents * int64(it.Quantity)
		out.Items = append(out.Items, cartLine{ProductID: it.ProductID, Name: p.Name, Quantity: it.Quantity,
			UnitPrice: units(p.PriceCents), LineTotal: units(line)})
		out.ItemCount += it.Quantity
		subtotal += line
	}
	tax := percentOf(subtotal, ecomTaxBasisPoints)
	out.Subtotal, out.Tax, out.Shipping = units(subtotal), units(tax), units(ecomShippingCents)
	out.Total = units(subtotal + tax + ecomShippingCents)
	return out, nil
}

// ecomPayment is the result of the e-commerce process_payment.
type ecomPayment struct {
	PaymentID       string   `json:"payment_id"`
	TransactionID   string   `json:"transaction_id"`
	AmountCharged   float64  `json:"amount_charged"`
	AmountRequested *float64 `json:"amount_requested,omitempty"`
	PaymentMethod   string   `json:"payment_method"`
	Currency        string   `json:"currency"`
	Status          string   `json:"status"`
}

// ecomProcessPayment charges the cart total. Tokens "tok_test_declined" and
// "tok_test_insufficient_funds" are declined (non-retryable);
// "tok_test_gateway_error" is a retryable outage.
func ecomProcessPayment(_ context.Context, step *worker.Step[ecomContext]) (ecomPayment, error) {
	cart, err := worker.Dependency[validatedCart](step, stepValidateCart)
	if err != nil {
		return ecomPayment{}, err
	}
	p := step.Input.PaymentInfo
	switch {
	case strings.TrimSpace(p.Method) == "":
		return ecomPayment{}, invalid("payment_info.method is required")
	case strings.TrimSpace(p.Token) == "":
		return ecomPayment{}, invalid("payment_info.token is required")
	case p.Token == "tok_test_declined":
		return ecomPayment{}, declined("card declined", "CARD_DECLINED")
	case p.Token == "tok_test_insufficient_funds":
		return ecomPayment{}, declined("insufficient funds", "INSUFFICIENT_FUNDS")
	case p.Token == "tok_test_gateway_error":
		return ecomPayment{}, &worker.Error{Err: errors.New("payment gateway unavailable"),
			Type: worker.ErrorTypeRetryable, Code: "GATEWAY_UNAVAILABLE"}
	}
	// The cart total is what is charged; the amount the client sent is
	// reported beside it, never charged.
	return ecomPayment{
		PaymentID:       derivedID(step, "pay_", 16),
		TransactionID:   derivedID(step, "txn_", 16),
		AmountCharged:   cart.Total,
		AmountRequested: p.Amount,
		PaymentMethod:   p.Method,
		Currency:        "USD",
		Status:          "completed",
	}, nil
}

// inventoryUpdate is the result of update_inventory.
type inventoryUpdate struct {
	UpdatedProducts []inventoryChange `json:"updated_products"`
	TotalItems      int               `json:"total_items_reserved"`
	InventoryLogID  string            `json:"inventory_log_id"`
}

type inventoryChange struct {
	ProductID     int64  `json:"product_id"`
	Name          string `json:"name"`
	PreviousStock int    `json:"previous_stock"`
	NewStock      int    `json:"new_stock"`
	Reserved      int    `json:"quantity_reserved"`
}

func ecomUpdateInventory(_ context.Context, step *worker.Step[struct{}]) (inventoryUpdate, error) {
	cart, err := worker.Dependency[validatedCart](step, stepValidateCart)
	if err != nil {
		return inventoryUpdate{}, err
	}
	out := inventoryUpdate{InventoryLogID: derivedID(step, "log_", 16)}
	reserved := map[int64]int{}
	for _, l := range cart.Items {
		p := ecomCatalogue[l.ProductID]
		before := p.Stock - reserved[l.ProductID]
		if l.Quantity > before {
			return inventoryUpdate{}, outOfStock(fmt.Errorf("product %d: only %d left, %d requested", l.ProductID, before, l.Quantity))
		}
		reserved[l.ProductID] += l.Quantity
		out.UpdatedProducts = append(out.UpdatedProducts, inventoryChange{ProductID: l.ProductID, Name: l.Name,
			PreviousStock: before, NewStock: before - l.Quantity, Reserved: l.Quantity})
		out.TotalItems += l.Quantity
	}
	return out, nil
}

// ecomOrder is the result of create_order.
type ecomOrder struct {
	OrderID        string     `json:"order_id"`
	OrderNumber    string     `json:"order_number"`
	CustomerEmail  string     `json:"customer_email"`
	CustomerName   string     `json:"customer_name"`
	Items          []cartLine `json:"items"`
	Total          float64    `json:"total_amount"`
	PaymentID      string     `json:"payment_id"`
	TransactionID  string     `json:"transaction_id"`
	InventoryLogID string     `json:"inventory_log_id"`
	Status         string     `json:"status"`
}

func ecomCreateOrder(_ context.Context, step *worker.Step[ecomContext]) (ecomOrder, error) {
	cart, err := worker.Dependency[validatedCart](step, stepValidateCart)
	if err != nil {
		return ecomOrder{}, err
	}
	pay, err := worker.Dependency[ecomPayment](step, stepEcomPayment)
	if err != nil {
		return ecomOrder{}, err
	}
	inv, err := worker.Dependency[inventoryUpdate](step, stepUpdateInventory)
	if err != nil {
		return ecomOrder{}, err
	}
	ec := step.Input
	if !plausibleEmail(ec.CustomerInfo.Email) {
		return ecomOrder{}, invalid("customer_info.email %q is not an email address", ec.CustomerInfo.Email)
	}
	return ecomOrder{
		OrderID:        derivedID(step, "ord_", 16),
		OrderNumber:    "ORD-" + derivedDigits(step, "order_number", 8),
		CustomerEmail:  ec.CustomerInfo.Email,
		CustomerName:   ec.CustomerInfo.Name,
		Items:          cart.Items,
		Total:          cart.Total,
		PaymentID:      pay.PaymentID,
		TransactionID:  pay.TransactionID,
		InventoryLogID: inv.InventoryLogID,
		Status:         "confirmed",
	}, nil
}

// confirmation is the result of send_confirmation.
type confirmation struct {
	EmailSent   bool    `json:"email_sent"`
	Recipient   string  `json:"recipient"`
	Subject     string  `json:"subject"`
	MessageID   string  `json:"message_id"`
	OrderNumber string  `json:"order_number"`
	Total       float64 `json:"total_amount"`
	SentAt      string  `json:"sent_at"`
}

func ecomSendConfirmation(_ context.Context, step *worker.Step[struct{}]) (confirmation, error) {
	order, err := worker.Dependency[ecomOrder](step, stepCreateOrder)
	if err != nil {
		return confirmation{}, err
	}
	return confirmation{
		EmailSent:   true,
		Recipient:   order.CustomerEmail,
		Subject:     "Your order " + order.OrderNumber + " is confirmed",
		MessageID:   derivedID(step, "msg_", 16),
		OrderNumber: order.OrderNumber,
		Total:       order.Total,
		SentAt:      now(),
	}, nil
}

// outOfStock is the permanent failure of a cart the stock cannot serve.
func outOfStock(err error) error {
	return &worker.Error{Err: err, Type: "OutOfStock", Code: "OUT_OF_STOCK", Permanent: true}
}

// declined is the permanent failure of a declined payment.
func declined(message, code string) error {
	return &worker.Error{Err: errors.New(message), Type: "PaymentDeclined", Code: code, Permanent: true}
}

func registerEcommerce(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, "ecommerce_validate_cart", worker.Func(validateCart)),
		worker.Register(r, "ecommerce_process_payment", worker.Func(ecomProcessPayment)),
		worker.Register(r, "ecommerce_update_inventory", worker.Func(ecomUpdateInventory)),
		worker.Register(r, "ecommerce_create_order", worker.Func(ecomCreateOrder)),
		worker.Register(r, "ecommerce_send_confirmation", worker.Func(ecomSendConfirmation)),
	)
}
