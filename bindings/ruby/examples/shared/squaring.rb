# frozen_string_literal: true

# The arithmetic of tasker-core's Ruby DAG examples (linear, diamond, mixed
# DAG, tree): a step squares the product of its parents' results; a root
# step squares the task's even_number.
module SquaringExamples
  # Returns [product, product**2] of the factors, naming a missing one.
  def self.square_of_product(factors)
    missing = factors.select { |_, value| value.nil? }.keys
    raise "#{missing.join(', ')} result not found" unless missing.empty?

    product = factors.values.reduce(:*)
    [product, product * product]
  end

  def self.even_number!(value)
    raise 'Task context must contain an even number' unless value.is_a?(Integer) && value.even?

    value
  end

  # Class handlers: `parents 'a', 'b'` names the steps whose results are
  # multiplied; with no parents the step squares the task's even_number.
  # `verify_power k` adds tasker-core's check against even_number**k.
  class Handler < TaskerCore::StepHandler::Base
    class << self
      def parents(*names)
        @parents = names unless names.empty?
        @parents || []
      end

      def verify_power(power = nil)
        @verify_power = power if power
        @verify_power
      end
    end

    def call(context)
      factors = if self.class.parents.empty?
                  { 'even_number' => SquaringExamples.even_number!(context.get_input('even_number')) }
                else
                  self.class.parents.to_h { |p| [p, context.get_dependency_result(p)] }
                end
      product, result = SquaringExamples.square_of_product(factors)
      logger.info("#{context.step_name}: (#{factors.values.join(' x ')})^2 = #{result}")
      success(result: result, metadata: SquaringExamples.metadata(factors, product, result, context.get_input('even_number'),
                                                                  self.class.verify_power))
    end
  end

  def self.metadata(factors, product, result, even_number, power)
    meta = { operation: factors.size > 1 ? 'multiply_and_square' : 'square', input_refs: factors.keys, multiplied: product }
    return meta unless power

    expected = even_number**power
    meta.merge(verification: { original_number: even_number, expected_result: expected, actual_result: result, matches: result == expected })
  end

  # A functional-DSL handler for the same computation; parents are the
  # dependency step names.
  def self.dsl_handler(name, parents, verify_power: nil)
    depends = parents.to_h { |p| [p.to_sym, p] }
    TaskerCore::StepHandler::Functional.step_handler(name, depends_on: depends, inputs: [:even_number]) do |even_number:, context:, **deps| # rubocop:disable Lint/UnusedBlockArgument
      factors = parents.empty? ? { 'even_number' => even_number!(even_number) } : deps.transform_keys(&:to_s)
      product, result = square_of_product(factors)
      TaskerCore::Types::StepHandlerCallResult.success(result: result,
                                                       metadata: metadata(factors, product, result, even_number, verify_power))
    end
  end
end
