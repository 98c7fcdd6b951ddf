# frozen_string_literal: true

require 'net/http'
require 'uri'

module TaskerCore
  module StepHandler
    module Mixins
      # HTTP helpers for handlers that call a service, on Net::HTTP. config:
      # url (base), timeout, open_timeout, headers. A non-2xx response raises
      # what it means: 429/503/5xx RetryableError (with Retry-After),
      # 400/401/403/404/422 PermanentError.
      module API
        Response = Struct.new(:status, :body, :headers, :reason_phrase) do
          def success? = status.between?(200, 299)
        end

        def capabilities = super + %w[http_client error_classification retry_headers]

        def get(path, params: {}, headers: {}) = http_request(:get, path, params: params, headers: headers)
        def post(path, data: {}, headers: {}) = http_request(:post, path, data: data, headers: headers)
        def put(path, data: {}, headers: {}) = http_request(:put, path, data: data, headers: headers)
        def delete(path, params: {}, headers: {}) = http_request(:delete, path, params: params, headers: headers)

        def http_request(method, path, params: {}, data: nil, headers: {})
          base = config[:url] || config['url']
          uri = base ? URI.join(base.end_with?('/') ? base : "#{base}/", path.to_s.delete_prefix('/')) : URI(path.to_s)
          uri.query = URI.encode_www_form(params) unless params.nil? || params.empty?
          request = Net::HTTP.const_get(method.to_s.capitalize).new(uri)
          (config[:headers] || config['headers'] || {}).merge(headers).each { |k, v| request[k.to_s] = v.to_s }
          if data
            request['Content-Type'] ||= 'application/json'
            request.body = data.is_a?(String) ? data : JSON.generate(data)
          end
          raw = Net::HTTP.start(uri.host, uri.port, use_ssl: uri.scheme == 'https',
                                                    read_timeout: config[:timeout] || config['timeout'] || 30,
                                                    open_timeout: config[:open_timeout] || config['open_timeout'] || 10) do |http|
            http.request(request)
          end
          process_response(to_response(raw))
        rescue Net::OpenTimeout, Net::ReadTimeout, SocketError, SystemCallError, IOError => e
          raise Errors::NetworkError.new("#{method.upcase} #{path}: #{e.class}: #{e.message}", context: { error_class: e.class.name })
        end

        def process_response(response)
          return response if response.success?

          status = response.status
          ctx = { status: status, body: response.body }
          message = "HTTP #{status}: #{response.reason_phrase}"
          case status
          when 400, 401, 403, 404, 422 then raise Errors::PermanentError.new(message, error_code: "HTTP_#{status}", context: ctx)
          when 429, 503 then raise Errors::RetryableError.new(message, retry_after: retry_after_seconds(response.headers), context: ctx)
          else raise Errors::RetryableError.new(message, context: ctx)
          end
        end

        def api_success(data:, status: 200, headers: {}, execution_time_ms: nil, metadata: {})
          result = { 'data' => data, 'status' => status, 'headers' => headers, 'execution_time_ms' => execution_time_ms }.compact
          success(result: result, metadata: metadata.merge(api_call: true))
        end

        def api_failure(message:, status: nil, error_type: nil, headers: {}, execution_time_ms: nil, metadata: {})
          type = error_type || ({ 4 => 'PermanentError', 5 => 'RetryableError' }[status.to_i / 100] || 'UnexpectedError')
          failure(message: message, error_type: type, retryable: !status.nil? && (status >= 500 || status == 429),
                  metadata: metadata.merge(api_call: true, status: status, headers: headers, execution_time_ms: execution_time_ms).compact)
        end

        private

        def to_response(raw)
          body = raw.body
          body = JSON.parse(body) if body && raw['Content-Type'].to_s.include?('json') && !body.empty?
          Response.new(raw.code.to_i, body, raw.each_header.to_h, raw.message)
        rescue JSON::ParserError
          Response.new(raw.code.to_i, raw.body, raw.each_header.to_h, raw.message)
        end

        # Retry-After in seconds (delta-seconds or an HTTP date), or nil.
        def retry_after_seconds(headers)
          value = headers['retry-after'] || headers['Retry-After']
          return nil if value.nil?
          return value.to_i if value.to_s.match?(/\A\d+\z/)

          [(Time.httpdate(value) - Time.now).ceil, 0].max
        rescue ArgumentError
          nil
        end
      end
    end

    # A handler class for HTTP calls (legacy form of `include Mixins::API`).
    class Api < Base
      include Mixins::API
    end
  end
end
