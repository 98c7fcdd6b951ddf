"""Domain-event publishing workflow (templates domain_event_publishing_py and
its _dsl_py twin): validate order -> payment -> inventory -> notification.
The template declares the events each step publishes; publishing them is the
engine's job (not implemented yet), the handlers only compute results."""

import uuid
from datetime import datetime, timezone

from tasker_core import StepHandler, StepHandlerResult
from tasker_core.step_handler.functional import inputs, step_handler


def _now():
    return datetime.now(timezone.utc).isoformat()


def validate_order(order_id, customer_id, amount, config):
    mode = config.get("validation_mode", "standard")
    amount = amount or 0
    if mode == "strict" and amount <= 0:
        return StepHandlerResult.failure("Amount must be positive in strict mode", "ValidationError", False,
                                         {"validation_mode": mode})
    checks = ["order_id_present", "customer_id_present"] + (["amount_positive"] if amount > 0 else [])
    return StepHandlerResult.success({"order_id": order_id or str(uuid.uuid4()), "validation_timestamp": _now(),
                                      "validation_checks": checks, "validated": True}, {"validation_mode": mode})


def process_payment(order_id, amount, simulate_failure, config):
    provider = config.get("payment_provider", "mock")
    if simulate_failure:
        return StepHandlerResult.failure("Simulated payment failure", "PaymentError", True,
                                         {"order_id": order_id or "unknown", "failed_at": _now()})
    return StepHandlerResult.success({"transaction_id": f"TXN-{uuid.uuid4()}", "amount": amount or 0,
                                      "payment_method": "credit_card", "processed_at": _now(), "status": "success"},
                                     {"payment_provider": provider})


def update_inventory(order_id, config):
    items = [{"sku": "ITEM-001", "quantity": 1}, {"sku": "ITEM-002", "quantity": 2}]
    return StepHandlerResult.success({"order_id": order_id or "unknown", "items": items, "success": True,
                                      "updated_at": _now()}, {"inventory_source": config.get("inventory_source", "mock")})


def send_notification(customer_id, config):
    channel = config.get("notification_type", "email")
    return StepHandlerResult.success({"notification_id": f"NOTIF-{uuid.uuid4()}", "channel": channel,
                                      "recipient": customer_id or "unknown", "sent_at": _now(), "status": "delivered"},
                                     {"notification_type": channel})


class ValidateOrderHandler(StepHandler):
    handler_name = "domain_events_py.step_handlers.ValidateOrderHandler"

    def call(self, context):
        i = context.input_data
        return validate_order(i.get("order_id"), i.get("customer_id"), i.get("amount", 0), context.step_config)


class ProcessPaymentHandler(StepHandler):
    handler_name = "domain_events_py.step_handlers.ProcessPaymentHandler"

    def call(self, context):
        i = context.input_data
        return process_payment(i.get("order_id"), i.get("amount", 0), i.get("simulate_failure"), context.step_config)


class UpdateInventoryHandler(StepHandler):
    handler_name = "domain_events_py.step_handlers.UpdateInventoryHandler"

    def call(self, context):
        return update_inventory(context.get_input("order_id"), context.step_config)


class SendNotificationHandler(StepHandler):
    handler_name = "domain_events_py.step_handlers.SendNotificationHandler"

    def call(self, context):
        return send_notification(context.get_input("customer_id"), context.step_config)


@step_handler("domain_events_dsl_py.step_handlers.validate_order")
@inputs("order_id", "customer_id", "amount")
def validate_order_dsl(order_id, customer_id, amount, context):
    return validate_order(order_id, customer_id, amount, context.step_config)


@step_handler("domain_events_dsl_py.step_handlers.process_payment")
@inputs("order_id", "amount", "simulate_failure")
def process_payment_dsl(order_id, amount, simulate_failure, context):
    return process_payment(order_id, amount, simulate_failure, context.step_config)


@step_handler("domain_events_dsl_py.step_handlers.update_inventory")
@inputs("order_id")
def update_inventory_dsl(order_id, context):
    return update_inventory(order_id, context.step_config)


@step_handler("domain_events_dsl_py.step_handlers.send_notification")
@inputs("customer_id")
def send_notification_dsl(customer_id, context):
    return send_notification(customer_id, context.step_config)
