"""E-commerce order processing (templates ecommerce_order_processing_py and
its _dsl_py twin): validate cart -> payment -> inventory -> order -> email.

Cart of product 1 x2 and product 2 x1: subtotal 109.97, tax 8.80, shipping
5.99, total 124.76; the payment must state that amount. Tokens
tok_test_declined / tok_test_insufficient_funds fail permanently,
tok_test_network_error is retryable (Retry-After 15 s).
"""

import random
import re
import secrets
from datetime import datetime, timedelta, timezone

from tasker_core import PermanentError, RetryableError, StepHandler, StepHandlerResult
from tasker_core.step_handler.functional import depends_on, inputs, step_handler

PRODUCTS = {
    1: {"id": 1, "name": "Widget A", "price": 29.99, "stock": 100, "active": True},
    2: {"id": 2, "name": "Widget B", "price": 49.99, "stock": 50, "active": True},
    3: {"id": 3, "name": "Widget C", "price": 19.99, "stock": 25, "active": True},
    4: {"id": 4, "name": "Widget D", "price": 39.99, "stock": 0, "active": True},
    5: {"id": 5, "name": "Widget E", "price": 59.99, "stock": 10, "active": False},
}
DECLINED = {"tok_test_declined": "Card was declined by issuer", "tok_test_insufficient_funds": "Insufficient funds"}


def _now():
    return datetime.now(timezone.utc).isoformat()


def _product(product_id):
    product = PRODUCTS.get(product_id)
    if not product:
        raise PermanentError(f"Product {product_id} not found", error_code="PRODUCT_NOT_FOUND")
    return product


def validate_cart(cart_items):
    if not cart_items:
        raise PermanentError("Cart items are required but were not provided", error_code="MISSING_CART_ITEMS")
    for index, item in enumerate(cart_items, start=1):
        if not item.get("product_id"):
            raise PermanentError(f"Product ID is required for cart item {index}", error_code="MISSING_PRODUCT_ID")
        if not item.get("quantity") or item["quantity"] <= 0:
            raise PermanentError(f"Valid quantity is required for cart item {index}", error_code="INVALID_QUANTITY")
    items = []
    for item in cart_items:
        product, quantity = _product(item["product_id"]), item["quantity"]
        if not product["active"]:
            raise PermanentError(f"Product {product['name']} is no longer available", error_code="PRODUCT_INACTIVE")
        if product["stock"] < quantity:
            raise RetryableError(f"Insufficient stock for {product['name']}. Available: {product['stock']}, "
                                 f"Requested: {quantity}", retry_after=30)
        items.append({"product_id": product["id"], "name": product["name"], "price": product["price"],
                      "quantity": quantity, "line_total": round(product["price"] * quantity, 2)})
    subtotal = sum(i["line_total"] for i in items)
    tax = round(subtotal * 0.08, 2)
    weight = sum(i["quantity"] * 0.5 for i in items)
    shipping = 5.99 if weight <= 2 else 9.99 if weight <= 10 else 14.99
    return {"validated_items": items, "subtotal": subtotal, "tax": tax, "shipping": shipping,
            "total": subtotal + tax + shipping, "item_count": len(items), "validated_at": _now()}


def process_payment(payment_info, amount):
    for key, code in (("method", "MISSING_PAYMENT_METHOD"), ("token", "MISSING_PAYMENT_TOKEN")):
        if not payment_info or not payment_info.get(key):
            raise PermanentError(f"Payment {key} is required but was not provided", error_code=code)
    if amount is None:
        raise PermanentError("Cart total is required but was not found from validate_cart step", error_code="MISSING_CART_TOTAL")
    provided = payment_info.get("amount", 0)
    if abs(float(provided) - float(amount)) > 0.01:
        raise PermanentError(f"Payment amount mismatch. Expected: ${amount}, Provided: ${provided}",
                             error_code="PAYMENT_AMOUNT_MISMATCH")
    token = payment_info["token"]
    if token in DECLINED:
        raise PermanentError(f"Payment declined: {DECLINED[token]}", error_code="PAYMENT_DECLINED")
    if token == "tok_test_network_error":
        raise RetryableError("Payment service temporarily unavailable", retry_after=15)
    return {"payment_id": f"pay_{secrets.token_hex(12)}", "amount_charged": amount, "currency": "USD",
            "payment_method_type": payment_info["method"], "transaction_id": f"txn_{secrets.token_hex(12)}",
            "processed_at": _now(), "status": "completed"}


def update_inventory(cart, customer_info):
    if not cart or not cart.get("validated_items"):
        raise PermanentError("Validated cart items are required but were not found from validate_cart step",
                             error_code="MISSING_VALIDATED_ITEMS")
    if not customer_info:
        raise PermanentError("Customer information is required but was not provided", error_code="MISSING_CUSTOMER_INFO")
    updated, changes = [], []
    for item in cart["validated_items"]:
        product, quantity = _product(item["product_id"]), item["quantity"]
        if product["stock"] < quantity:
            raise RetryableError(f"Stock not available for {product['name']}. Available: {product['stock']}, "
                                 f"Needed: {quantity}", retry_after=30)
        reservation = f"rsv_{secrets.token_hex(8)}"
        updated.append({"product_id": product["id"], "name": product["name"], "previous_stock": product["stock"],
                        "new_stock": product["stock"] - quantity, "quantity_reserved": quantity,
                        "reservation_id": reservation})
        changes.append({"product_id": product["id"], "change_type": "reservation", "quantity": -quantity,
                        "reason": "order_checkout", "timestamp": _now(), "reservation_id": reservation,
                        "inventory_log_id": f"log_{secrets.token_hex(6)}"})
    return {"updated_products": updated, "total_items_reserved": sum(p["quantity_reserved"] for p in updated),
            "inventory_changes": changes, "inventory_log_id": f"log_{secrets.token_hex(8)}", "updated_at": _now()}


def create_order(customer_info, cart, payment, inventory):
    checks = ((customer_info, None, "Customer information", "MISSING_CUSTOMER_INFO"),
              (cart, "validated_items", "Cart validation results", "MISSING_CART_VALIDATION"),
              (payment, "payment_id", "Payment results", "MISSING_PAYMENT_RESULT"),
              (inventory, "updated_products", "Inventory results", "MISSING_INVENTORY_RESULT"))
    for value, key, what, code in checks:
        if not value or (key and not value.get(key)):
            raise PermanentError(f"{what} are required but were not found", error_code=code)
    now = datetime.now(timezone.utc)
    return {"order_id": random.randint(1000, 9999),
            "order_number": f"ORD-{now:%Y%m%d}-{secrets.token_hex(4).upper()}", "status": "confirmed",
            "total_amount": cart.get("total"), "customer_email": customer_info.get("email"),
            "created_at": now.isoformat(), "estimated_delivery": (now + timedelta(days=7)).strftime("%B %d, %Y")}


def send_confirmation(customer_info, order, cart):
    email = (customer_info or {}).get("email")
    if not email:
        raise PermanentError("Customer email is required but was not provided", error_code="MISSING_CUSTOMER_EMAIL")
    if not order or not order.get("order_id"):
        raise PermanentError("Order results are required but were not found from create_order step",
                             error_code="MISSING_ORDER_RESULT")
    if not cart or not cart.get("validated_items"):
        raise PermanentError("Cart validation results are required but were not found from validate_cart step",
                             error_code="MISSING_CART_VALIDATION")
    if not re.match(r"^[^@\s]+@[^@\s]+$", email):
        raise PermanentError("Invalid email address provided", error_code="INVALID_EMAIL")
    return {"email_sent": True, "recipient": email, "email_type": "order_confirmation", "sent_at": _now(),
            "message_id": f"msg_{secrets.token_hex(12)}"}


# --- class handlers (ecommerce_order_processing_py) ---

def _ok(result, operation):
    return StepHandlerResult.success(result, {"operation": operation})


class ValidateCartHandler(StepHandler):
    handler_name = "ecommerce.step_handlers.ValidateCartHandler"

    def call(self, context):
        return _ok(validate_cart(context.get_input("cart_items")), "validate_cart")


class ProcessPaymentHandler(StepHandler):
    handler_name = "ecommerce.step_handlers.ProcessPaymentHandler"

    def call(self, context):
        return _ok(process_payment(context.get_input("payment_info"),
                                   context.get_dependency_field("validate_cart", "total")), "process_payment")


class UpdateInventoryHandler(StepHandler):
    handler_name = "ecommerce.step_handlers.UpdateInventoryHandler"

    def call(self, context):
        return _ok(update_inventory(context.get_dependency_result("validate_cart"), context.get_input("customer_info")),
                   "update_inventory")


class CreateOrderHandler(StepHandler):
    handler_name = "ecommerce.step_handlers.CreateOrderHandler"

    def call(self, context):
        deps = [context.get_dependency_result(s) for s in ("validate_cart", "process_payment", "update_inventory")]
        return _ok(create_order(context.get_input("customer_info"), *deps), "create_order")


class SendConfirmationHandler(StepHandler):
    handler_name = "ecommerce.step_handlers.SendConfirmationHandler"

    def call(self, context):
        return _ok(send_confirmation(context.get_input("customer_info"), context.get_dependency_result("create_order"),
                                     context.get_dependency_result("validate_cart")), "send_confirmation_email")


# --- decorator twins (ecommerce_order_processing_dsl_py) ---

@step_handler("ecommerce_dsl_py.step_handlers.validate_cart")
@inputs("cart_items")
def validate_cart_dsl(cart_items):
    return validate_cart(cart_items)


@step_handler("ecommerce_dsl_py.step_handlers.process_payment")
@inputs("payment_info")
@depends_on(cart="validate_cart_dsl_py")
def process_payment_dsl(payment_info, cart):
    return process_payment(payment_info, (cart or {}).get("total"))


@step_handler("ecommerce_dsl_py.step_handlers.update_inventory")
@inputs("customer_info")
@depends_on(cart="validate_cart_dsl_py")
def update_inventory_dsl(customer_info, cart):
    return update_inventory(cart, customer_info)


@step_handler("ecommerce_dsl_py.step_handlers.create_order")
@inputs("customer_info")
@depends_on(cart="validate_cart_dsl_py", payment="process_payment_dsl_py", inventory="update_inventory_dsl_py")
def create_order_dsl(customer_info, cart, payment, inventory):
    return create_order(customer_info, cart, payment, inventory)


@step_handler("ecommerce_dsl_py.step_handlers.send_confirmation")
@inputs("customer_info")
@depends_on(order="create_order_dsl_py", cart="validate_cart_dsl_py")
def send_confirmation_dsl(customer_info, order, cart):
    return send_confirmation(customer_info, order, cart)
