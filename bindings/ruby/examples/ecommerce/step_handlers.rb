# frozen_string_literal: true

require 'securerandom'

# tasker-core's Ruby e-commerce example (ecommerce_order_processing):
# validate_cart -> process_payment -> update_inventory -> create_order ->
# send_confirmation over {cart_items: [{product_id, quantity}],
# customer_info: {email, name}, payment_info: {method, token, amount}}.
# Tokens tok_test_declined / tok_test_insufficient_funds fail permanently,
# tok_test_network_error is retried.
module Ecommerce
  PRODUCTS = {
    1 => { name: 'Widget A', price: 29.99, stock: 100, active: true },
    2 => { name: 'Widget B', price: 49.99, stock: 50, active: true },
    3 => { name: 'Widget C', price: 19.99, stock: 25, active: true },
    4 => { name: 'Widget D', price: 39.99, stock: 0, active: true },
    5 => { name: 'Widget E', price: 59.99, stock: 10, active: false }
  }.freeze
  FAILING_TOKENS = {
    'tok_test_declined' => 'Card was declined by issuer', 'tok_test_insufficient_funds' => 'Insufficient funds'
  }.freeze
  TAX_RATE = 0.08

  def self.permanent!(message, code, **context)
    raise TaskerCore::Errors::PermanentError.new(message, error_code: code, context: context)
  end

  def self.product!(id)
    PRODUCTS[id] || permanent!("Product #{id} not found", 'PRODUCT_NOT_FOUND')
  end

  def self.check_stock!(id, product, quantity)
    return if product[:stock] >= quantity

    raise TaskerCore::Errors::RetryableError.new(
      "Insufficient stock for #{product[:name]}. Available: #{product[:stock]}, Requested: #{quantity}",
      retry_after: 30, context: { product_id: id, available_stock: product[:stock], requested_quantity: quantity }
    )
  end

  def self.validate_cart(cart_items)
    permanent!('Cart items are required but were not provided', 'MISSING_CART_ITEMS') unless cart_items.is_a?(Array) && !cart_items.empty?

    items = cart_items.each_with_index.map do |item, index|
      id, quantity = item.values_at('product_id', 'quantity')
      permanent!("Product ID is required for cart item #{index + 1}", 'MISSING_PRODUCT_ID') unless id
      permanent!("Valid quantity is required for cart item #{index + 1}", 'INVALID_QUANTITY') unless quantity.is_a?(Numeric) && quantity.positive?
      product = product!(id)
      permanent!("Product #{product[:name]} is no longer available", 'PRODUCT_INACTIVE') unless product[:active]
      check_stock!(id, product, quantity)
      { product_id: id, name: product[:name], price: product[:price], quantity: quantity, line_total: (product[:price] * quantity).round(2) }
    end
    subtotal = items.sum { |i| i[:line_total] }
    tax = (subtotal * TAX_RATE).round(2)
    weight = items.sum { |i| i[:quantity] * 0.5 }
    shipping = if weight <= 2 then 5.99
               elsif weight <= 10 then 9.99
               else 14.99
               end
    { validated_items: items, subtotal: subtotal, tax: tax, shipping: shipping, total: subtotal + tax + shipping,
      item_count: items.size, validated_at: Time.now.utc.iso8601 }
  end

  # strict: the class handler's checks (amount matches the cart total, the
  # simulated gateway's failing tokens).
  def self.process_payment(payment_info, cart, strict: true)
    payment_info ||= {}
    permanent!('Payment method is required but was not provided', 'MISSING_PAYMENT_METHOD') unless payment_info['method']
    permanent!('Payment token is required but was not provided', 'MISSING_PAYMENT_TOKEN') unless payment_info['token']
    total = cart && cart['total']
    permanent!('Cart total is required but was not found from validate_cart step', 'MISSING_CART_TOTAL') unless total
    check_payment!(payment_info, total) if strict
    { payment_id: "pay_#{SecureRandom.hex(12)}", amount_charged: total, currency: 'USD', payment_method_type: payment_info['method'],
      transaction_id: "txn_#{SecureRandom.hex(12)}", processed_at: Time.now.utc.iso8601, status: 'completed' }
  end

  def self.check_payment!(payment_info, total)
    provided = payment_info['amount'].to_f
    if (provided - total.to_f).abs > 0.01
      permanent!("Payment amount mismatch. Expected: $#{total.to_f}, Provided: $#{provided}", 'PAYMENT_AMOUNT_MISMATCH')
    end
    token = payment_info['token']
    permanent!("Payment declined: #{FAILING_TOKENS[token]}", 'PAYMENT_DECLINED') if FAILING_TOKENS.key?(token)
    raise TaskerCore::Errors::RetryableError.new('Payment service temporarily unavailable', retry_after: 15) if token == 'tok_test_network_error'
  end

  def self.update_inventory(cart, customer_info, with_changes: true)
    items = cart && cart['validated_items']
    unless items.is_a?(Array) && !items.empty?
      permanent!('Validated cart items are required but were not found from validate_cart step', 'MISSING_VALIDATED_ITEMS')
    end
    permanent!('Customer information is required but was not provided', 'MISSING_CUSTOMER_INFO') unless customer_info

    products = items.map do |item|
      product = product!(item['product_id'])
      check_stock!(item['product_id'], product, item['quantity'])
      { product_id: item['product_id'], name: product[:name], previous_stock: product[:stock],
        new_stock: product[:stock] - item['quantity'], quantity_reserved: item['quantity'], reservation_id: "rsv_#{SecureRandom.hex(8)}" }
    end
    result = { updated_products: products, total_items_reserved: products.sum { |p| p[:quantity_reserved] } }
    if with_changes
      result[:inventory_changes] = products.map do |p|
        { product_id: p[:product_id], change_type: 'reservation', quantity: -p[:quantity_reserved], reason: 'order_checkout',
          timestamp: Time.now.utc.iso8601, reservation_id: p[:reservation_id] }
      end
    end
    result.merge(inventory_log_id: "log_#{SecureRandom.hex(8)}", updated_at: Time.now.utc.iso8601)
  end

  def self.create_order(customer_info, cart, payment, inventory)
    permanent!('Customer information is required but was not provided', 'MISSING_CUSTOMER_INFO') unless customer_info
    permanent!('Cart validation results are required', 'MISSING_CART_VALIDATION') unless cart && cart['validated_items']&.any?
    permanent!('Payment results are required', 'MISSING_PAYMENT_RESULT') unless payment && payment['payment_id']
    permanent!('Inventory results are required', 'MISSING_INVENTORY_RESULT') unless inventory && inventory['updated_products']&.any?

    { order_id: rand(1000..9999), order_number: "ORD-#{Time.now.strftime('%Y%m%d')}-#{SecureRandom.hex(4).upcase}",
      status: 'confirmed', total_amount: cart['total'], customer_email: customer_info['email'], created_at: Time.now.iso8601,
      estimated_delivery: (Time.now + (7 * 24 * 60 * 60)).strftime('%B %d, %Y') }
  end

  def self.send_confirmation(customer_info, order, cart, strict: true)
    email = customer_info && customer_info['email']
    permanent!('Customer email is required but was not provided', 'MISSING_CUSTOMER_EMAIL') unless email
    permanent!('Order results are required', 'MISSING_ORDER_RESULT') unless order && order['order_id']
    permanent!('Cart validation results are required', 'MISSING_CART_VALIDATION') unless cart && cart['validated_items']&.any?
    permanent!('Invalid email address provided', 'INVALID_EMAIL', email: email) if strict && !email.match?(/\A[^@\s]+@[^@\s]+\z/)

    { email_sent: true, recipient: email, email_type: 'order_confirmation', sent_at: Time.now.utc.iso8601,
      message_id: strict ? "msg_#{SecureRandom.hex(12)}" : "mock_#{SecureRandom.hex(8)}" }
  end

  module StepHandlers
    class ValidateCartHandler < TaskerCore::StepHandler::Base
      def call(context)
        result = Ecommerce.validate_cart(context.get_input('cart_items'))
        success(result: result, metadata: { operation: 'validate_cart', execution_hints: { tax_rate: TAX_RATE, shipping_cost: result[:shipping] } })
      end
    end

    class ProcessPaymentHandler < TaskerCore::StepHandler::Base
      def call(context)
        result = Ecommerce.process_payment(context.get_input('payment_info'), context.get_dependency_result('validate_cart'))
        success(result: result, metadata: { operation: 'process_payment', http_headers: { 'X-Payment-ID' => result[:payment_id] } })
      end
    end

    class UpdateInventoryHandler < TaskerCore::StepHandler::Base
      def call(context)
        result = Ecommerce.update_inventory(context.get_dependency_result('validate_cart'), context.get_input('customer_info'))
        success(result: result, metadata: { operation: 'update_inventory', products_updated: result[:updated_products].size })
      end
    end

    class CreateOrderHandler < TaskerCore::StepHandler::Base
      def call(context)
        result = Ecommerce.create_order(context.get_input('customer_info'), context.get_dependency_result('validate_cart'),
                                        context.get_dependency_result('process_payment'),
                                        context.get_dependency_result('update_inventory'))
        success(result: result, metadata: { operation: 'create_order', http_headers: { 'X-Order-Number' => result[:order_number] } })
      end
    end

    class SendConfirmationHandler < TaskerCore::StepHandler::Base
      def call(context)
        result = Ecommerce.send_confirmation(context.get_input('customer_info'), context.get_dependency_result('create_order'),
                                             context.get_dependency_result('validate_cart'))
        success(result: result, metadata: { operation: 'send_confirmation_email' })
      end
    end
  end
end
