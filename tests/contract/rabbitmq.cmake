# RabbitMQ 3.10's AMQP 1.0 plugin, checked with Qpid Proton's Python binding, so that the
# RabbitMQ leg of the suite starts from a broker known to work. Each case starts its own broker.
set(rabbitmq_contract_dir ${CMAKE_CURRENT_LIST_DIR}/rabbitmq)

add_test(NAME contract.rabbitmq.roundtrip COMMAND ${rabbitmq_contract_dir}/run.sh roundtrip 500)
add_test(NAME contract.rabbitmq.bad_password_rejected
         COMMAND ${rabbitmq_contract_dir}/run.sh bad-password)
add_test(NAME contract.rabbitmq.anonymous_rejected COMMAND ${rabbitmq_contract_dir}/run.sh anonymous)
set_tests_properties(contract.rabbitmq.roundtrip contract.rabbitmq.bad_password_rejected
                     contract.rabbitmq.anonymous_rejected PROPERTIES LABELS contract TIMEOUT 180)
