# frozen_string_literal: true

require_relative 'step_handlers'

# The e-commerce flow as functional-DSL handlers (ecommerce_dsl_rb). As in
# tasker-core's DSL twin, payment and e-mail are not checked further.
module EcommerceDsl
  extend TaskerCore::StepHandler::Functional

  ValidateCart = step_handler('ecommerce_dsl_rb.step_handlers.validate_cart', inputs: [:cart_items]) do |cart_items:, **|
    Ecommerce.validate_cart(cart_items)
  end

  ProcessPayment = step_handler('ecommerce_dsl_rb.step_handlers.process_payment', depends_on: { cart: 'validate_cart_dsl' },
                                                                                   inputs: [:payment_info]) do |cart:, payment_info:, **|
    Ecommerce.process_payment(payment_info, cart, strict: false)
  end

  UpdateInventory = step_handler('ecommerce_dsl_rb.step_handlers.update_inventory', depends_on: { cart: 'validate_cart_dsl' },
                                                                                     inputs: [:customer_info]) do |cart:, customer_info:, **|
    Ecommerce.update_inventory(cart, customer_info, with_changes: false)
  end

  CreateOrder = step_handler('ecommerce_dsl_rb.step_handlers.create_order',
                             depends_on: { cart: 'validate_cart_dsl', payment: 'process_payment_dsl', inventory: 'update_inventory_dsl' },
                             inputs: [:customer_info]) do |cart:, payment:, inventory:, customer_info:, **|
    Ecommerce.create_order(customer_info, cart, payment, inventory)
  end

  SendConfirmation = step_handler('ecommerce_dsl_rb.step_handlers.send_confirmation',
                                  depends_on: { order: 'create_order_dsl', cart: 'validate_cart_dsl' },
                                  inputs: [:customer_info]) do |order:, cart:, customer_info:, **|
    Ecommerce.send_confirmation(customer_info, order, cart, strict: false)
  end
end
