# frozen_string_literal: true

require 'securerandom'

# tasker-core's Ruby order fulfillment (business_workflow): validate_order ->
# reserve_inventory -> process_payment -> ship_order over the task context
# {customer_info: {id, email}, order_items: [{product_id, quantity, price}],
# payment_info: {method, token}, shipping_info: {address, method}}. Only
# products 101-103 exist.
module OrderFulfillment
  PRODUCTS = {
    101 => { name: 'Premium Widget A', stock: 100, category: 'widgets', location: 'WH-EAST-A1' },
    102 => { name: 'Deluxe Widget B', stock: 50, category: 'widgets', location: 'WH-WEST-B2' },
    103 => { name: 'Standard Gadget C', stock: 200, category: 'gadgets', location: 'WH-CENTRAL-C3' }
  }.freeze
  CARRIERS = { 'express' => ['FedEx', 'FedEx Express', 15.00, 2], 'overnight' => ['FedEx', 'FedEx Overnight', 25.00, 1] }.freeze
  STANDARD = ['UPS', 'UPS Ground', 8.99, 5].freeze

  def self.permanent!(message, code, **context)
    raise TaskerCore::Errors::PermanentError.new(message, error_code: code, context: context)
  end

  def self.validate_order(task_context)
    customer = task_context['customer_info'] || {}
    items = task_context['order_items']
    permanent!('Customer ID is required', 'MISSING_CUSTOMER_ID') unless customer['id']
    permanent!('Customer email is required', 'MISSING_CUSTOMER_EMAIL') unless customer['email']
    permanent!('Order items are required', 'MISSING_ORDER_ITEMS') unless items.is_a?(Array) && !items.empty?

    validated = items.each_with_index.map do |item, index|
      product_id, quantity, price = item.values_at('product_id', 'quantity', 'price')
      unless product_id && quantity && price
        permanent!("Invalid order item at position #{index + 1}: missing required fields", 'INVALID_ORDER_ITEM')
      end
      permanent!("Invalid quantity #{quantity} for product #{product_id}", 'INVALID_QUANTITY') if quantity <= 0
      permanent!("Invalid price #{price} for product #{product_id}", 'INVALID_PRICE') if price.negative?
      product = PRODUCTS[product_id] || permanent!("Product #{product_id} not found", 'PRODUCT_NOT_FOUND', product_id: product_id)
      { product_id: product_id, product_name: product[:name], quantity: quantity, unit_price: price, line_total: price * quantity,
        available_stock: product[:stock], category: product[:category] }
    end
    total = validated.sum { |i| i[:line_total] }
    permanent!("Order total $#{total} exceeds maximum allowed value", 'ORDER_TOTAL_TOO_HIGH') if total > 50_000.00
    { customer_validated: true, customer_id: customer['id'], validated_items: validated, order_total: total,
      validation_status: 'complete', validated_at: Time.now.iso8601 }
  end

  def self.reserve_inventory(validation)
    items = validation && validation['validated_items']
    permanent!('No validated items found from validate_order step', 'NO_VALIDATED_ITEMS') unless items.is_a?(Array) && !items.empty?

    reservation_id = "RES-#{Time.now.to_i}-#{SecureRandom.hex(4).upcase}"
    details = items.map do |item|
      product = PRODUCTS[item['product_id']] || permanent!("Product #{item['product_id']} not found in inventory system",
                                                           'PRODUCT_NOT_IN_INVENTORY')
      if product[:stock] < item['quantity']
        raise TaskerCore::Errors::RetryableError.new(
          "Insufficient stock for product #{item['product_id']}. Available: #{product[:stock]}, Requested: #{item['quantity']}",
          retry_after: 60
        )
      end
      { product_id: item['product_id'], product_name: item['product_name'], quantity_requested: item['quantity'],
        quantity_reserved: item['quantity'], unit_price: item['unit_price'], line_total: item['line_total'],
        stock_location: product[:location], reservation_reference: "#{reservation_id}-#{item['product_id']}" }
    end
    { reservation_id: reservation_id, items_reserved: details.size, reservation_status: 'confirmed',
      total_reserved_value: details.sum { |r| r[:line_total] }, expires_at: (Time.now + (15 * 60)).iso8601,
      reserved_at: Time.now.iso8601, reservation_details: details }
  end

  def self.payment_info!(task_context)
    info = task_context['payment_info'] || permanent!('Payment information is required', 'MISSING_PAYMENT_INFO')
    permanent!('Payment method is required', 'MISSING_PAYMENT_METHOD') unless info['method']
    permanent!('Payment token is required', 'MISSING_PAYMENT_TOKEN') unless info['token']
    info
  end

  def self.process_payment(task_context, validation, reservation, detailed: true)
    permanent!('validate_order step results not found', 'MISSING_VALIDATION_RESULTS') unless validation
    permanent!('reserve_inventory step results not found', 'MISSING_RESERVATION_RESULTS') unless reservation
    info = payment_info!(task_context)
    amount = validation['order_total']
    payment_id = "PAY-#{Time.now.to_i}-#{SecureRandom.hex(6).upcase}"
    txn = "TXN-#{SecureRandom.hex(8).upcase}"
    gateway = { status: 'succeeded', transaction_id: txn, amount: amount }
    gateway.merge!(currency: 'USD', payment_method_type: info['method'], gateway_fee: (amount * 0.029).round(2)) if detailed
    { payment_processed: true, payment_id: payment_id, transaction_id: txn, amount_charged: amount,
      payment_method_used: info['method'], gateway_response: gateway, processed_at: Time.now.iso8601, payment_status: 'completed' }
  end

  def self.ship_order(task_context, validation, reservation, payment, by_method: true)
    [[validation, 'validate_order'], [reservation, 'reserve_inventory'], [payment, 'process_payment']].each do |result, step|
      permanent!("#{step} step results not found", 'MISSING_DEPENDENCY_RESULTS') unless result
    end
    shipping = task_context['shipping_info'] || permanent!('Shipping information is required', 'MISSING_SHIPPING_INFO')
    permanent!('Shipping address is required', 'MISSING_SHIPPING_ADDRESS') unless shipping['address']
    method = shipping['method'] || 'standard'
    carrier, service, base, days = by_method ? CARRIERS.fetch(method, STANDARD) : STANDARD
    weight = validation['validated_items'].sum { |i| i['quantity'] * 0.5 }
    cost = by_method ? (base + ([weight - 1, 0].max * 2.50)).round(2) : base
    shipment_id = "SHIP-#{Time.now.to_i}-#{SecureRandom.hex(4).upcase}"
    { shipment_id: shipment_id, tracking_number: carrier == 'FedEx' ? "1Z#{SecureRandom.hex(8).upcase}" : "UPS#{SecureRandom.hex(6).upcase}",
      shipping_status: 'label_created', shipping_cost: cost,
      estimated_delivery: by_method ? business_days_from_today(days) : (Time.now.to_date + days).iso8601,
      carrier: carrier, service_type: service, label_url: "https://labels.#{carrier.downcase}.com/#{shipment_id}.pdf",
      processed_at: Time.now.iso8601 }
  end

  # The date `days` business days from today (weekends skipped).
  def self.business_days_from_today(days)
    date = Time.now.to_date
    added = 0
    while added < days
      date += 1
      added += 1 unless [0, 6].include?(date.wday)
    end
    date.iso8601
  end

  module StepHandlers
    class ValidateOrderHandler < TaskerCore::StepHandler::Base
      def call(context)
        result = OrderFulfillment.validate_order(context.task.context)
        success(result: result, metadata: { operation: 'validate_order', item_count: result[:validated_items].size })
      end
    end

    class ReserveInventoryHandler < TaskerCore::StepHandler::Base
      def call(context)
        result = OrderFulfillment.reserve_inventory(context.get_dependency_result('validate_order'))
        success(result: result, metadata: { operation: 'reserve_inventory', items_count: result[:items_reserved] })
      end
    end

    class ProcessPaymentHandler < TaskerCore::StepHandler::Base
      def call(context)
        result = OrderFulfillment.process_payment(context.task.context, context.get_dependency_result('validate_order'),
                                                  context.get_dependency_result('reserve_inventory'))
        success(result: result, metadata: { operation: 'process_payment',
                                            http_headers: { 'X-Payment-Gateway' => 'stripe', 'X-Idempotency-Key' => result[:payment_id] } })
      end
    end

    class ShipOrderHandler < TaskerCore::StepHandler::Base
      def call(context)
        result = OrderFulfillment.ship_order(context.task.context, context.get_dependency_result('validate_order'),
                                             context.get_dependency_result('reserve_inventory'),
                                             context.get_dependency_result('process_payment'))
        success(result: result, metadata: { operation: 'ship_order', http_headers: { 'X-Carrier-Name' => result[:carrier] } })
      end
    end
  end
end
