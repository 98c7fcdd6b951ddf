# frozen_string_literal: true

require_relative 'step_handlers'

# Order fulfillment as functional-DSL handlers (order_fulfillment_dsl). As in
# tasker-core's DSL twin, shipping is always UPS Ground at $8.99.
module OrderFulfillmentDsl
  extend TaskerCore::StepHandler::Functional

  ValidateOrder = step_handler('order_fulfillment_dsl.step_handlers.validate_order') do |context:|
    OrderFulfillment.validate_order(context.task.context)
  end

  ReserveInventory = step_handler('order_fulfillment_dsl.step_handlers.reserve_inventory',
                                  depends_on: { validation: 'validate_order_dsl' }) do |validation:, **|
    OrderFulfillment.reserve_inventory(validation)
  end

  ProcessPayment = step_handler('order_fulfillment_dsl.step_handlers.process_payment',
                                depends_on: { validation: 'validate_order_dsl', reservation: 'reserve_inventory_dsl' }) do |validation:, reservation:, context:|
    OrderFulfillment.process_payment(context.task.context, validation, reservation, detailed: false)
  end

  ShipOrder = step_handler('order_fulfillment_dsl.step_handlers.ship_order',
                           depends_on: { validation: 'validate_order_dsl', reservation: 'reserve_inventory_dsl',
                                         payment: 'process_payment_dsl' }) do |validation:, reservation:, payment:, context:|
    OrderFulfillment.ship_order(context.task.context, validation, reservation, payment, by_method: false)
  end
end
